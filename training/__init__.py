"""Turns recordings into the ONNX model the app loads (see docs/model-format.md).

Features always come from `kws_app.dsp.frontend`, so a model learns from exactly what the app will
compute at run time. Run `python -m training --help` for the commands.
"""
