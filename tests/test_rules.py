"""Keep/block rules (`ingest.rules`, `[[rules]]`): validation at load with one sentence
naming the rule, Miniflux's order (global block, source block, global keep, source keep),
case- and accent-insensitive matching, and every condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.rules import SourceRules, Subject, fold
from rassegna.config import Settings, load_settings
from rassegna.errors import ConfigError
from rassegna.rulesets import rule_set
from tests.conftest import write_config

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

SOURCES = """
[[sources]]
name = "Ansa"
kind = "feed"
url = "https://esempio.it/ansa.xml"

[[sources]]
name = "Comune"
kind = "feed"
url = "https://esempio.it/comune.xml"
"""


def settings_with(tmp_path: Path, rules: str) -> Settings:
    return load_settings(write_config(tmp_path, SOURCES + rules), environ={})


def subject(**changes: object) -> Subject:
    values: dict[str, object] = {
        "title": "Il sindaco presenta il bilancio della città",
        "url": "https://esempio.it/cronaca/bilancio",
        "text": "Il consiglio comunale approva il bilancio.",
        "authors": ("Giulia Ferraris",),
        "tags": ("Bilancio", "Comune"),
        "category": "Cronaca",
        "language": "it",
        "published": NOW - timedelta(hours=2),
    }
    values.update(changes)
    return Subject(**values)  # type: ignore[arg-type]


def rules_for(tmp_path: Path, source: str, rules: str) -> SourceRules:
    """The rules in force for `source` of `SOURCES` under the `[[rules]]` TOML `rules`."""
    return rule_set(settings_with(tmp_path, rules)).for_source(source)


def error_of(tmp_path: Path, rules: str) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, rules)
    return caught.value.message


# -- validation ----------------------------------------------------------------------------


def test_a_bad_regex_is_one_sentence_naming_the_rule_and_field(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
[[rules]]
action = "block"
title = "oroscopo"

[[rules]]
action = "keep"
title = "sindaco)x"
""",
    )
    assert message.endswith("rules[1].title: unbalanced parenthesis at position 7")
    assert message.startswith(str(tmp_path / "rassegna.toml"))
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('action = "block"\nheadline = "x"', "rules[0].headline: unknown key"),
        ('action = "hide"\ntitle = "x"', 'rules[0].action: "hide" is not one of: block, keep'),
        ('action = "block"', "rules[0]: a rule needs at least one condition"),
        ('action = "block"\nolder_than = "tanto"', 'rules[0].older_than: "tanto" is not'),
        ('action = "block"\ntitle = "x"\nsources = ["Ansaa"]', 'no source named "Ansaa"'),
        ('action = "keep"\ntext = "[abc"', "rules[0].text: unterminated character set"),
    ],
)
def test_rule_errors(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in error_of(tmp_path, "[[rules]]\n" + body + "\n")


def test_rewrite_errors_name_the_table(tmp_path: Path) -> None:
    assert 'rewrite[0].remove: "div..x" is not a CSS selector' in error_of(
        tmp_path, '[[rewrite]]\nremove = ["div..x"]\n'
    )
    assert "rewrite[0].replace[0].pattern: missing )" in error_of(
        tmp_path, '[[rewrite]]\nreplace = [{ pattern = "(Ansa", with = "" }]\n'
    )
    assert "rewrite[0]: a rewrite needs remove or replace" in error_of(
        tmp_path, '[[rewrite]]\nsources = ["Ansa"]\n'
    )


# -- order ---------------------------------------------------------------------------------


ORDERED = """
[[rules]]
name = "keep comune"
action = "keep"
sources = ["Comune"]
title = "sindaco"

[[rules]]
action = "keep"
tag = "^bilancio$"

[[rules]]
action = "block"
sources = ["Comune"]
title = "bilancio"

[[rules]]
action = "block"
title = "oroscopo"
"""


def test_miniflux_order_global_block_source_block_global_keep_source_keep(
    tmp_path: Path,
) -> None:
    rules = rule_set(settings_with(tmp_path, ORDERED))
    comune, ansa = rules.for_source("Comune"), rules.for_source("Ansa")
    assert [r.label for r in comune.block] == ["rules[3]", "rules[2]"]
    assert [r.label for r in comune.keep] == ["rules[1]", 'rules[0] "keep comune"']
    assert [r.label for r in ansa.block] == ["rules[3]"]
    assert [r.label for r in ansa.keep] == ["rules[1]"]

    horoscope = subject(title="Oroscopo del sindaco sul bilancio", tags=("Bilancio",))
    # A block rule wins over any keep rule, the global one first.
    assert comune.decide(horoscope, NOW).reason == "blocked by rules[3]"
    # The source's own block rule comes before every keep rule.
    assert comune.decide(subject(), NOW).reason == "blocked by rules[2]"
    # Global keep before the source's keep.
    assert ansa.decide(subject(), NOW).reason == "kept by rules[1]"
    both = subject(title="Il sindaco inaugura la piazza", tags=("Bilancio",))
    assert comune.decide(both, NOW).reason == "kept by rules[1]"
    only_source = subject(title="Il sindaco inaugura la piazza", tags=("Piazza",))
    assert comune.decide(only_source, NOW).reason == 'kept by rules[0] "keep comune"'
    # Where keep rules apply, matching none of them blocks.
    nothing = subject(title="Nuova piazza", tags=("Piazza",))
    decision = comune.decide(nothing, NOW)
    assert decision.blocked
    assert decision.reason == 'blocked: matches no keep rule (rules[1], rules[0] "keep comune")'
    assert ansa.decide(nothing, NOW).blocked


def test_without_keep_rules_everything_not_blocked_is_kept(tmp_path: Path) -> None:
    rules = rule_set(settings_with(tmp_path, '[[rules]]\naction = "block"\ntitle = "oroscopo"\n'))
    decision = rules.for_source("Ansa").decide(subject(), NOW)
    assert not decision.blocked and decision.rule is None


# -- matching ------------------------------------------------------------------------------


def test_accents_and_case_do_not_matter_either_way(tmp_path: Path) -> None:
    rules = rules_for(
        tmp_path,
        "Ansa",
        """
[[rules]]
action = "block"
title = "citta"

[[rules]]
action = "block"
text = "PERCHÉ"
""",
    )
    for title in ("La città si ferma", "LA CITTÀ SI FERMA", "La Citta si ferma"):
        assert rules.decide(subject(title=title), NOW).reason == "blocked by rules[0]"
    assert rules.decide(subject(title="Il paese", text="Ecco perche"), NOW).blocked
    assert not rules.decide(subject(title="Il paese", text="Per che cosa"), NOW).blocked


@given(st.text(alphabet="aeiouàèéìòùÀÈÉÌÒÙcnt ", min_size=1, max_size=20))
def test_fold_removes_accents_only(text: str) -> None:
    folded = fold(text)
    assert folded.isascii()
    assert len(folded) == len(text)
    assert fold(folded) == folded


def test_every_condition_must_hold(tmp_path: Path) -> None:
    rules = rules_for(
        tmp_path,
        "Comune",
        """
[[rules]]
action = "block"
url = "/cronaca/"
author = "ferraris"
category = "^cronaca$"
language = "it"
older_than = "1d"
""",
    )
    old = subject(published=NOW - timedelta(days=2))
    assert rules.decide(old, NOW).blocked
    assert not rules.decide(subject(), NOW).blocked  # too recent
    assert not rules.decide(subject(published=old.published, language="en"), NOW).blocked
    assert not rules.decide(subject(published=old.published, authors=("Ugo Neri",)), NOW).blocked
    assert not rules.decide(subject(published=old.published, category="Cronaca nera"), NOW).blocked
    assert not rules.decide(
        subject(published=old.published, url="https://e.it/sport/x"), NOW
    ).blocked


def test_tag_and_author_match_any_of_them(tmp_path: Path) -> None:
    rules = rules_for(
        tmp_path, "Ansa", '[[rules]]\naction = "keep"\ntag = "^comune$"\nauthor = "neri"\n'
    )
    assert not rules.decide(subject(authors=("Ada Bianchi", "Ugo Neri")), NOW).blocked
    assert rules.decide(subject(authors=("Ada Bianchi",)), NOW).blocked
    assert rules.decide(subject(authors=("Ugo Neri",), tags=("Comunale",)), NOW).blocked


def test_language_accepts_a_list_and_regional_variants(tmp_path: Path) -> None:
    rules = rules_for(tmp_path, "Ansa", '[[rules]]\naction = "keep"\nlanguage = ["it", "fr"]\n')
    assert not rules.decide(subject(language="it-CH"), NOW).blocked
    assert not rules.decide(subject(language="fr"), NOW).blocked
    assert rules.decide(subject(language="en"), NOW).blocked
    assert rules.decide(subject(language="ita"), NOW).blocked


def test_the_readme_examples_load(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    blocks = [
        b
        for b in re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
        if "[[rules]]" in b or "[[rewrite]]" in b
    ]
    assert len(blocks) == 2
    sources = "".join(
        f'[[sources]]\nname = "{n}"\nkind = "feed"\nurl = "https://esempio.it/{i}.xml"\n\n'
        for i, n in enumerate(["Il Giornale di Esempio", "Agenzia regionale"])
    )
    config = load_settings(write_config(tmp_path, sources + "\n".join(blocks)), environ={})
    assert len(config.rules) == 5 and len(config.rewrite) == 1
    regional = rule_set(config).for_source("Agenzia regionale")
    text = "Nuove linee di autobus nella Città metropolitana"
    assert regional.decide(subject(text=text), NOW).reason == 'kept by rules[2] "solo la citta"'


_WORDS = st.sampled_from(
    ["città", "citta", "Perché", "sindaco", "CAFFÈ", "e", "a-b", "l'ora", "/x-y/"]
)


@given(
    st.lists(_WORDS, min_size=1, max_size=3),
    st.booleans(),
    st.text(alphabet="aeiouàèéìòùÀÈÉcfinrsty' -—«»KſİÆ\u0301", max_size=40),
    st.lists(_WORDS, max_size=4),
)
def test_the_word_prefilter_never_changes_an_answer(
    words: list[str], bounded: bool, noise: str, inserted: list[str]
) -> None:
    """Rules made of plain words skip the regex when a quick substring search says it
    cannot match; the answer is always the regex's own."""
    import re

    from ingest.rules import compile_pattern, make_rule, required_words

    pattern = "|".join(rf"\b{w}\b" if bounded else w for w in words)
    assert required_words(pattern) is not None
    text = noise + " ".join(inserted) + noise + " ſindaco KAFFÈ"
    rule = make_rule("r", "block", patterns={"text": pattern})
    expected = compile_pattern(pattern).search(fold(text)) is not None
    assert rule.matches(subject(text=text), NOW) is expected
    assert re.compile(pattern)  # the pattern as written is a regex too


_RULE_PATTERNS = st.sampled_from(
    [r"\bsindaco\b", "città|bilancio", "oroscopo", "/cronaca/", "/sport/", r"bil\w+", "^Il"]
)
_RULES = st.lists(
    st.tuples(
        st.sampled_from(["block", "keep"]),
        st.dictionaries(
            st.sampled_from(["title", "text", "url", "author", "tag", "category"]),
            _RULE_PATTERNS,
            max_size=2,
        ),
        st.sampled_from([(), ("en",), ("it",)]),
        st.sampled_from([None, timedelta(days=1), timedelta(days=3650)]),
    ).filter(lambda r: bool(r[1] or r[2] or r[3])),
    max_size=8,
)
_SUBJECTS = st.builds(
    subject,
    title=st.sampled_from(["Il sindaco e il bilancio", "Oroscopo del giorno", "Città chiusa"]),
    url=st.sampled_from(["https://esempio.it/cronaca/x", "https://esempio.it/sport/y"]),
    text=st.sampled_from(["", "Il BILANCIO della CITTA", "oroscopo, sindaco"]),
    authors=st.lists(st.sampled_from(["Anna Rossi", "Il Sindaco"]), max_size=2).map(tuple),
    tags=st.lists(st.sampled_from(["Città", "Sport"]), max_size=2).map(tuple),
    language=st.sampled_from(["it", "en-GB", ""]),
    published=st.sampled_from([NOW - timedelta(days=2), NOW - timedelta(days=4000)]),
)


@given(_RULES, _SUBJECTS)
def test_the_shortlist_of_rules_gives_the_decision_of_trying_them_all(
    specs: list[tuple[str, dict[str, str], tuple[str, ...], timedelta | None]],
    entry: Subject,
) -> None:
    from ingest.rules import make_rule

    rules = [
        make_rule(f"rules[{n}]", action, patterns=patterns, languages=langs, older_than=age)  # type: ignore[arg-type]
        for n, (action, patterns, langs, age) in enumerate(specs)
    ]
    block = tuple(r for r in rules if r.action == "block")
    keep = tuple(r for r in rules if r.action == "keep")
    decision = SourceRules(block=block, keep=keep).decide(entry, NOW)
    first_block = next((r for r in block if r.matches(entry, NOW)), None)
    first_keep = next((r for r in keep if r.matches(entry, NOW)), None)
    if first_block is not None:
        assert (decision.blocked, decision.rule) == (True, first_block.label)
    elif not keep:
        assert (decision.blocked, decision.rule) == (False, None)
    elif first_keep is not None:
        assert (decision.blocked, decision.rule) == (False, first_keep.label)
    else:
        assert (decision.blocked, decision.rule) == (True, None)
