<?xml version="1.0" encoding="UTF-8"?>
<!--
  rassegna: what a browser shows when someone opens rss.xml or atom.xml (the feeds carry
  <?xml-stylesheet type="text/xsl" href=".../feed.xsl"?>; feed readers ignore it).
  An Italian page: what a feed is, the address to copy, a few readers, the items.
  Text only: summaries are copied as text, never as markup, so a feed cannot inject HTML.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <!-- Month names padded to ten characters, picked by position. -->
  <xsl:variable name="mesi"
      select="'gennaio   febbraio  marzo     aprile    maggio    giugno    luglio    agosto    settembre ottobre   novembre  dicembre  '"/>

  <xsl:template match="/">
    <xsl:variable name="rss" select="/rss/channel"/>
    <xsl:variable name="atom" select="/atom:feed"/>
    <xsl:variable name="titolo" select="normalize-space($rss/title | $atom/atom:title)"/>
    <xsl:variable name="descrizione"
        select="normalize-space($rss/description | $atom/atom:subtitle)"/>
    <xsl:variable name="indirizzo"
        select="($rss/atom:link[@rel='self'] | $atom/atom:link[@rel='self'])[1]/@href"/>
    <xsl:variable name="sito"
        select="($rss/link | $atom/atom:link[@rel='alternate'][1]/@href)[1]"/>
    <xsl:variable name="lingua">
      <xsl:choose>
        <xsl:when test="$rss/language"><xsl:value-of select="$rss/language"/></xsl:when>
        <xsl:when test="$atom/@xml:lang"><xsl:value-of select="$atom/@xml:lang"/></xsl:when>
        <xsl:otherwise>it</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <html lang="{$lingua}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$titolo"/> (feed)</title>
        <style>
:root { color-scheme: light dark; --bg: #fff; --fg: #1a1a1a; --muted: #595959;
  --accent: #0b6e4f; --box: #eef5f1; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #e8e8e8; --muted: #b3b3b3; --accent: #6fd6ac; --box: #1d2b25; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--fg); }
header, main, footer { max-width: 46rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.75rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #8884; }
a { color: var(--accent); }
.nota { background: var(--box); border-radius: .5rem; padding: .75rem 1rem; margin-top: 1rem; }
.nota h2 { margin-top: .25rem; }
.indirizzo { display: block; padding: .5rem .75rem; margin: .5rem 0; border: 1px solid #8888;
  border-radius: .25rem; overflow-wrap: anywhere; font-size: .95rem; }
.lettori { display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; list-style: none; }
.lettori a { display: inline-block; padding: .2rem .6rem; border: 1px solid currentColor;
  border-radius: .25rem; text-decoration: none; }
.voci { list-style: none; padding: 0; margin: 0; }
.voci li { padding: .6rem 0; border-bottom: 1px solid #8882; }
.voci p { margin: .2rem 0 0; }
.meta { color: var(--muted); font-size: .875rem; }
footer { padding-bottom: 3rem; }
        </style>
      </head>
      <body>
        <header>
          <h1><xsl:value-of select="$titolo"/></h1>
          <xsl:if test="$descrizione != ''">
            <p><xsl:value-of select="$descrizione"/></p>
          </xsl:if>
        </header>
        <main>
          <section class="nota" aria-labelledby="cos-e">
            <h2 id="cos-e">Questo è un feed</h2>
            <p>Un feed è l’elenco degli ultimi articoli in un formato che i lettori di
              feed (come un’app di notizie o un client di posta) controllano da soli: ti
              abboni una volta e trovi le novità lì, senza tornare sul sito e senza
              iscriverti a nulla.</p>
            <p>Per abbonarti, copia questo indirizzo nel tuo lettore di feed:</p>
            <code class="indirizzo"><xsl:value-of select="$indirizzo"/></code>
            <p>Oppure aprilo direttamente in uno di questi lettori:</p>
            <ul class="lettori">
              <li><a href="https://feedly.com/i/subscription/feed/{$indirizzo}">Feedly</a></li>
              <li><a href="https://www.inoreader.com/?add_feed={$indirizzo}">Inoreader</a></li>
              <li><a href="https://www.newsblur.com/?url={$indirizzo}">NewsBlur</a></li>
            </ul>
            <p>Sul computer o sul telefono vanno bene anche
              <a href="https://netnewswire.com/">NetNewsWire</a>,
              <a href="https://www.thunderbird.net/">Thunderbird</a> e
              <a href="https://newsboat.org/">Newsboat</a>.</p>
          </section>
          <h2>Ultimi articoli</h2>
          <xsl:choose>
            <xsl:when test="$rss/item | $atom/atom:entry">
              <ul class="voci">
                <xsl:apply-templates select="$rss/item | $atom/atom:entry"/>
              </ul>
            </xsl:when>
            <xsl:otherwise><p>Ancora nessun articolo.</p></xsl:otherwise>
          </xsl:choose>
        </main>
        <footer>
          <xsl:if test="$sito">
            <p><a href="{$sito}">Vai al sito</a></p>
          </xsl:if>
        </footer>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <!-- RFC 822 as the build writes it: "Mon, 31 Mar 2025 07:00:00 +0200". -->
    <xsl:variable name="d" select="normalize-space(pubDate)"/>
    <xsl:variable name="mese"
        select="string-length(substring-before('JanFebMarAprMayJunJulAugSepOctNovDec', substring($d, 9, 3))) div 3 + 1"/>
    <xsl:variable name="iso"
        select="concat(substring($d, 13, 4), '-', format-number($mese, '00'), '-', substring($d, 6, 2), 'T', substring($d, 18, 8), substring($d, 27, 3), ':', substring($d, 30, 2))"/>
    <xsl:call-template name="voce">
      <xsl:with-param name="titolo" select="title"/>
      <xsl:with-param name="link" select="link"/>
      <xsl:with-param name="sommario" select="description"/>
      <xsl:with-param name="iso" select="$iso"/>
      <xsl:with-param name="ha-data" select="string-length($d) = 31"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:variable name="d">
      <xsl:choose>
        <xsl:when test="atom:published"><xsl:value-of select="normalize-space(atom:published)"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="normalize-space(atom:updated)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:call-template name="voce">
      <xsl:with-param name="titolo" select="atom:title"/>
      <xsl:with-param name="link"
          select="(atom:link[@rel='alternate'] | atom:link[not(@rel)])[1]/@href"/>
      <xsl:with-param name="sommario" select="atom:summary"/>
      <xsl:with-param name="iso" select="$d"/>
      <xsl:with-param name="ha-data" select="string-length($d) &gt;= 19"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="voce">
    <xsl:param name="titolo"/>
    <xsl:param name="link"/>
    <xsl:param name="sommario"/>
    <xsl:param name="iso"/>
    <xsl:param name="ha-data"/>
    <li>
      <xsl:choose>
        <xsl:when test="$link"><a href="{$link}"><xsl:value-of select="$titolo"/></a></xsl:when>
        <xsl:otherwise><xsl:value-of select="$titolo"/></xsl:otherwise>
      </xsl:choose>
      <xsl:if test="$ha-data">
        <div class="meta">
          <time datetime="{$iso}">
            <xsl:value-of select="number(substring($iso, 9, 2))"/>
            <xsl:text> </xsl:text>
            <xsl:value-of
                select="normalize-space(substring($mesi, (number(substring($iso, 6, 2)) - 1) * 10 + 1, 10))"/>
            <xsl:text> </xsl:text>
            <xsl:value-of select="substring($iso, 1, 4)"/>
            <xsl:text>, </xsl:text>
            <xsl:value-of select="substring($iso, 12, 5)"/>
          </time>
        </div>
      </xsl:if>
      <xsl:if test="normalize-space($sommario) != ''">
        <p><xsl:value-of select="normalize-space($sommario)"/></p>
      </xsl:if>
    </li>
  </xsl:template>
</xsl:stylesheet>
