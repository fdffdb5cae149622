"""Stage 1: stream MediaWiki dumps into entities, typed facts, links and linked sentences.

Imports nothing from the later stages (``kg``, ``fusion``).
"""

from extraction.build import BuildError, BuildOptions, build
from extraction.dump import DumpFormatError, DumpReader, read_siteinfo
from extraction.records import Article, Fact, Mention, Page, PageError, Sentence, SiteInfo, Value

__all__ = [
    "Article", "BuildError", "BuildOptions", "DumpFormatError", "DumpReader", "Fact", "Mention",
    "Page", "PageError", "Sentence", "SiteInfo", "Value", "build", "read_siteinfo",
]
