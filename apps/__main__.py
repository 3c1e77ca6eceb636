"""``python -m apps``: the combined demo (what ``make demo`` starts)."""

from apps.app import main

raise SystemExit(main())
