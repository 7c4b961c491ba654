"""Data-set readers, one file per format, each registered by name with ``@register_dataset``
(``registry.py`` imports every module of this folder on first use), and the settings they
take (``options.LoadOptions``). A new format is one file here and its test."""
