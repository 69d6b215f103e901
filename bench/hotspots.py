"""Compiled candidates for the normalizer's hot spots, against what rassegna uses.

`python -m bench.hotspots` (after `pip install lingua-language-detector selectolax`, which
are not dependencies): language detection (`detect_language` against lingua's compiled
detector, restricted to the six languages we report) and HTML-to-text (`html_text`, lxml,
against the same walk on selectolax's Lexbor parser). Corpus: 5,000 generated Italian
articles (`bench.corpus`) and 5,000 foreign ones assembled from the sentences below, plus
the `meta.language` and `html.` cases of the shared normalization corpus. Prints accuracy,
identical outputs and the time of each, measured in this process.
"""

from __future__ import annotations

import html as stdlib_html
import importlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from ingest.normalize import detect_language, html_to_text
from ingest.normalize._html import (
    BLOCK_TAGS,
    ENTITY_RE,
    OPENING_BREAKS,
    SKIPPED_TAGS,
    collapse_spaces,
    html_text,
)

SHARED_CORPUS = Path("/work/shared/corpus/italian-normalization.json")
PER_LANGUAGE = 1000
ITALIAN = 5000

FOREIGN = {
    "en": (
        "The city council approved the new budget after a long debate on Tuesday.",
        "Residents of the old town asked for more buses and safer bicycle lanes.",
        "The hospital will open a second emergency room before the end of the year.",
        "According to the mayor, the works on the bridge should be finished in spring.",
        "Teachers and parents met at the school to discuss the new timetable.",
        "The museum is showing a collection of paintings that had never left the archive.",
        "Farmers expect a smaller harvest because of the dry summer and the late frost.",
        "The local team won its third match in a row and now leads the league.",
    ),
    "fr": (
        "Le conseil municipal a approuvé le nouveau budget après un long débat mardi.",
        "Les habitants du centre historique demandent plus de bus et des pistes cyclables.",
        "L'hôpital ouvrira un deuxième service d'urgence avant la fin de l'année.",
        "Selon le maire, les travaux du pont devraient être terminés au printemps.",
        "Les enseignants et les parents se sont réunis à l'école pour parler des horaires.",
        "Le musée présente une collection de tableaux qui n'avaient jamais quitté les archives.",
        "Les agriculteurs prévoient une récolte plus faible à cause de l'été sec.",
        "L'équipe locale a gagné son troisième match de suite et mène le championnat.",
    ),
    "de": (
        "Der Stadtrat hat den neuen Haushalt nach einer langen Debatte am Dienstag beschlossen.",
        "Die Bewohner der Altstadt fordern mehr Busse und sichere Radwege.",
        "Das Krankenhaus wird vor Ende des Jahres eine zweite Notaufnahme eröffnen.",
        "Nach Angaben des Bürgermeisters sollen die Arbeiten an der Brücke im Frühjahr enden.",
        "Lehrer und Eltern trafen sich in der Schule, um den neuen Stundenplan zu besprechen.",
        "Das Museum zeigt eine Sammlung von Bildern, die das Archiv nie verlassen hatten.",
        "Die Landwirte erwarten wegen des trockenen Sommers eine kleinere Ernte.",
        "Die Mannschaft hat ihr drittes Spiel in Folge gewonnen und führt die Tabelle an.",
    ),
    "es": (
        "El ayuntamiento aprobó el nuevo presupuesto tras un largo debate el martes.",
        "Los vecinos del casco antiguo piden más autobuses y carriles para bicicletas.",
        "El hospital abrirá una segunda sala de urgencias antes de que termine el año.",
        "Según el alcalde, las obras del puente deberían terminar en primavera.",
        "Profesores y padres se reunieron en la escuela para hablar del nuevo horario.",
        "El museo muestra una colección de cuadros que nunca habían salido del archivo.",
        "Los agricultores esperan una cosecha menor por el verano seco y las heladas.",
        "El equipo local ganó su tercer partido seguido y ahora lidera la liga.",
    ),
    "pt": (
        "A câmara municipal aprovou o novo orçamento depois de um longo debate na terça.",
        "Os moradores do centro histórico pedem mais autocarros e ciclovias seguras.",
        "O hospital vai abrir uma segunda urgência antes do fim do ano.",
        "Segundo o presidente da câmara, as obras da ponte devem terminar na primavera.",
        "Professores e pais reuniram-se na escola para falar do novo horário.",
        "O museu mostra uma coleção de quadros que nunca tinham saído do arquivo.",
        "Os agricultores esperam uma colheita menor por causa do verão seco.",
        "A equipa local ganhou o terceiro jogo seguido e lidera agora o campeonato.",
    ),
}


def foreign_articles() -> list[tuple[str, str]]:
    """(language, text) pairs: 3 to 8 sentences of one language, fixed seed."""
    rng = random.Random(20261206)
    out: list[tuple[str, str]] = []
    for language, sentences in FOREIGN.items():
        for _ in range(PER_LANGUAGE):
            picked = [rng.choice(sentences) for _ in range(rng.randint(3, 8))]
            out.append((language, " ".join(picked)))
    return out


def shared_cases(prefix: str) -> list[dict[str, Any]]:
    if not SHARED_CORPUS.exists():
        return []
    cases = json.loads(SHARED_CORPUS.read_text(encoding="utf-8"))
    return [c for c in cases if str(c["rule"]).startswith(prefix)]


def interleaved(
    funcs: list[Callable[[str], object]], texts: list[str]
) -> list[tuple[list[object], float]]:
    """Each function on every text, alternating text by text (the order rotating), so a
    slow spell of a loaded machine hits them all: results and total seconds of each."""
    results: list[list[object]] = [[] for _ in funcs]
    seconds = [0.0 for _ in funcs]
    for n, text in enumerate(texts):
        for k in range(len(funcs)):
            which = (n + k) % len(funcs)
            start = time.perf_counter()
            results[which].append(funcs[which](text))
            seconds[which] += time.perf_counter() - start
    return list(zip(results, seconds, strict=True))


def languages() -> None:
    lingua = importlib.import_module("lingua")
    wanted = [lingua.Language.ITALIAN, lingua.Language.ENGLISH, lingua.Language.FRENCH]
    wanted += [lingua.Language.GERMAN, lingua.Language.SPANISH, lingua.Language.PORTUGUESE]
    detectors = {
        "lingua (high accuracy)": lingua.LanguageDetectorBuilder.from_languages(*wanted).build(),
        "lingua (low accuracy)": lingua.LanguageDetectorBuilder.from_languages(*wanted)
        .with_low_accuracy_mode()
        .build(),
    }
    corpus = Corpus()
    labelled = [("it", a.full_text) for a in corpus.articles(ITALIAN)] + foreign_articles()
    labelled += [(str(c["expected"]), str(c["input"])) for c in shared_cases("meta.language")]
    texts = [t for _, t in labelled]
    truth = [language for language, _ in labelled]

    def score(found: list[object]) -> str:
        right = sum(1 for f, t in zip(found, truth, strict=True) if f == t)
        unsure = sum(1 for f in found if f is None)
        return f"{right}/{len(truth)} right, {unsure} unsure"

    def coder(detector: Any) -> Callable[[str], object]:
        def code(text: str) -> str | None:
            found = detector.detect_language_of(text)
            return None if found is None else str(found.iso_code_639_1.name).lower()

        return code

    measured = interleaved([detect_language, *(coder(d) for d in detectors.values())], texts)
    ours, ours_s = measured[0]
    print(f"detect_language: {score(ours)}, {ours_s / len(texts) * 1e6:.0f} us per article")
    for name, (theirs, theirs_s) in zip(detectors, measured[1:], strict=True):
        print(
            f"{name}: {score(theirs)}, {theirs_s / len(texts) * 1e6:.0f} us per article, "
            f"{theirs_s / ours_s:.1f}x ours"
        )


def _lexbor_text(markup: str) -> str:
    """`html_text`'s walk on selectolax's Lexbor tree (same tag sets, same white space)."""
    selectolax = importlib.import_module("selectolax.lexbor")
    tree = selectolax.LexborHTMLParser(markup)
    parts: list[str] = []
    pre = 0

    def walk(node: Any) -> None:
        nonlocal pre
        tag = node.tag
        if tag == "-text":
            text = node.text_content or ""
            parts.append(text if pre else collapse_spaces(text))
            return
        if tag in SKIPPED_TAGS or tag.startswith("-"):  # comments, doctype
            return
        if opening := OPENING_BREAKS.get(tag):
            parts.append(opening)
        if tag == "pre":
            pre += 1
        child = node.child
        while child is not None:
            walk(child)
            child = child.next
        if tag == "pre":
            pre -= 1
        if tag in BLOCK_TAGS:
            parts.append("\n")

    if tree.root is not None:
        walk(tree.root)
    text = "".join(parts)
    if "&" in text:
        text = ENTITY_RE.sub(lambda m: stdlib_html.unescape(m.group(0)), text)
    return text


def html() -> None:
    corpus = Corpus()
    markups = [a.content_html for a in corpus.articles(ITALIAN)]
    markups += ["<p>" + t.replace(". ", ".</p><p>") + "</p>" for _, t in foreign_articles()]
    markups += [str(c["input"]) for c in shared_cases("html.")]
    (ours, ours_s), (theirs, theirs_s), (_, whole_s) = interleaved(
        [html_text, _lexbor_text, html_to_text], markups
    )
    same = sum(1 for a, b in zip(ours, theirs, strict=True) if a == b)
    print(
        f"html text: {same}/{len(markups)} identical; lxml {ours_s / len(markups) * 1e6:.0f} us, "
        f"selectolax {theirs_s / len(markups) * 1e6:.0f} us per field "
        f"({theirs_s / ours_s:.2f}x); the whole html_to_text {whole_s / len(markups) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    languages()
    html()
