"""Load and chunk: a documents folder read exactly (decoding, one reader per format), split into
sentences and packed into passages counted in tokens. Every passage and sentence is a [start, end)
span of the text stored for its document.

May import: rag.config, rag.errors, and the standard library and third-party packages; nothing
else of rag (it is the start of the flow).
"""
