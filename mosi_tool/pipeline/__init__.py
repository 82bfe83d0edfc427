"""Batch feature extraction: decode -> engine -> writer (`extract.extract` plans the jobs and runs a backend).

The stage contract. Records are the NamedTuples of `messages`; the options are `messages.ExtractOptions` and
`messages.DecodePlan` (the run's one `ClipSpec`, decoders and threads), resolved by `extract`, passed down whole.
- decode (`dataset`): per video, in order, a `ClipMessage` (frames) per clip, then a `DoneMessage` (clip
  count, video info) or an `ErrorMessage`; decoding never raises for a bad file. Locally it runs in
  `torch.utils.data.DataLoader` workers; on Ray, in decode tasks.
- engine (`engine_stage.EngineStage`): batches clips across videos at a fixed batch size, emits each clip's
  record with its feature vector in place of its frames, and passes each video's done or error on untouched.
- writer (`output.FeatureWriter`, in the main process): takes those records in any order across videos,
  writes a video's file once it has all its clips, and records each failure.

`local.run_local` joins them in one process (one engine; several devices: one process each), `ray_backend`
on Ray Data. A video left without an answer when a backend ends is recorded as failed.
"""
