"""Batch feature extraction: decode -> engine -> writer (`extract.extract` plans the jobs and runs a backend).

The stage contract. Messages are the NamedTuples of `messages`; the options are one `options.RunOptions`,
resolved by `extract` and passed down whole (the decoders read its `decode`, the engines its `engine`).
- decode (`decode_worker`, run by `decoders.DecoderPool`): receives one `VideoJob` at a time and sends, per
  video and in order, a `ClipMessage` per clip, then a `DoneMessage` (clip count, video info) or an
  `ErrorMessage`. Every failure of a video becomes its `ErrorMessage`; a decoder never raises for a bad file.
- engine (`engine_stage.EngineStage`: in the parent for one device, else one process per device run by
  `engines.EnginePool`): receives decoder messages, batches clips across videos, sends a `FeatureMessage` per
  clip, and passes each video's done or error on untouched. A `Stop` ends its input.
- writer (`writer.FeatureWriter`, always in the parent): receives feature, done and error messages in any
  order across videos, writes a video's file once it has all its clips, and records each failure.

Shared memory (`slots`): the parent owns the clip slots. It creates the pool and alone hands slots out
(`SlotLedger`): a decoder asks with `SlotRequest`, writes the clip into the slot it is granted and sends only
the slot number; the engine copies the clip out and frees the slot at once (from a process: `SlotFreed`).

A child that dies (any signal, the OOM killer) harms only its own work. Each child talks to the parent over
its own pipe, so nothing is left locked: the parent sees the pipe close, takes back the child's slots and
records an `ErrorMessage` for the videos it held (a decoder's current video; an engine's videos with clips in
flight). A dead decoder is replaced (up to `decoders.MAX_RESPAWNS`); a dead engine is not: the others go on,
and the run stops with an error only when none is left. Ctrl-C reaches only the parent, which kills the
children. The Ray backend (`ray_backend`) runs the same stages on the same messages, carried as rows; a
decode task that dies loses its videos, not the run. A video left without an answer when a backend ends is
recorded as failed.
"""
