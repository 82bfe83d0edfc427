"""The job machinery of every batch command (`features`, `targets`, `saliency --out-dir`): `jobs` (inputs and
their output names), `per_video` (plan, resume, run a per-video function), `failures` (`failures.jsonl`)."""
