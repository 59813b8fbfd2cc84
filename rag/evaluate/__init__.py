"""Evaluation for `rag eval`: our question files (`questions`), BEIR folders (`beir`), the index an
evaluation measures (`indexes`), runs, metrics and calibration through `Index.ask` (`runs`), and
the table and plot (`report`).

May import: the core. The core never imports it.
"""
