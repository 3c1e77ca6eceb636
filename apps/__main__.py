"""``python -m apps``: the combined demo (what ``make demo`` starts).

Imports no Gradio itself: ``apps.serve`` opens the models while ``apps.app`` (and Gradio) load.
"""

from apps.serve import main

raise SystemExit(main("apps.app:build", description="onnxkit combined demo (all tabs)"))
