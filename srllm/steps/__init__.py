"""The five steps of the study, one module each; each notebook is a narrative around one of them.

Every step reads the parameters and the run folder, writes its artifacts under ``<run>/<step>/``
atomically, and returns (and writes) its metrics. Steps only communicate through files, so a step
can be re-run alone. Nothing is imported here: a step's fingerprint covers the modules it imports
(srllm.pipeline.fingerprint), so importing one step must not import the others.
"""
