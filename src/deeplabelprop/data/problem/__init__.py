"""The problem a recipe solves: which labels it may use, which images it is tested on
(``problem``), seeded splits of a benchmark set (``splits``) and class splits for few-shot
transfer (``class_splits``)."""
