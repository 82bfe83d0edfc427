"""`mosi-tool export`: compile a checkpoint into engines that run without the model's Python code.

One module per job: `formats` (the table of artifact kinds), `options` (what to build), `graph` (the module
every exporter traces), `onnx`, `tensorrt`, `aoti` (one builder each), `metadata` (ModelMeta inside each
artifact), `parity` (engine vs PyTorch on real clips) and `pipeline` (several artifacts from one command).
"""
