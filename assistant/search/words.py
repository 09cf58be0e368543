"""The project's one set of English word lists: which words carry no topic. Built from three parts so each
use takes what it needs and nothing drifts apart:

* `FUNCTION_WORDS`: English function words and query glue. Retrieval drops exactly these from a query
  (BM25 terms): the retrieval figures in the README were measured with this set.
* `MORE_FUNCTION_WORDS`: further function words that the follow-up rewrite and the citation check ignore too.
* `PAPER_TALK`: words every abstract uses about itself ("we propose a novel method").
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    "a an and are as at be but by can do does for from has have how i in into is it its of on or our so "
    "such than that the their them then there these they this to was we what when where which who why "
    "will with within without would you your about over under between across using use used via vs "
)
MORE_FUNCTION_WORDS = _words(
    "also been being both each could did may might more most other some any those us were whom whose not "
    "no should therefore thus however whereas while"
)
PAPER_TALK = _words(
    "paper papers work works study studies approach approaches method methods result results new novel "
    "propose proposes proposed present presents show shows shown based"
)

# What a question asks for, not what it is about ("tell me about the latest papers on X").
QUESTION_STOPWORDS = (
    FUNCTION_WORDS
    | MORE_FUNCTION_WORDS
    | PAPER_TALK
    | _words("me tell explain describe give list find recent latest one ones please know say said")
)
# Words a cited sentence and its abstract share without that meaning support.
CLAIM_STOPWORDS = FUNCTION_WORDS | MORE_FUNCTION_WORDS | PAPER_TALK
# Words too generic to be a method term shared across fields or a BibTeX key word.
GENERIC_WORDS = (
    FUNCTION_WORDS
    | MORE_FUNCTION_WORDS
    | PAPER_TALK
    | _words(
        "model models existing state-of-the-art performance data dataset datasets framework frameworks task "
        "tasks problem problems analysis demonstrate experiments experimental evaluation different various "
        "recent large significant significantly improve improves improved improvement learning training "
        "system systems first well high low key main large-scale real-world extensive further remain "
        "remains remained limited limitation limitations challenge challenges challenging available "
        "publicly code github https http www com org released release make makes made often still among "
        "through whether here hence able enable enables enabling achieve achieves achieving provide "
        "provides providing allows allow leads lead leading remaining although because since many several "
        "same given prior previous current recently increasingly widely highly particularly especially"
    )
)
