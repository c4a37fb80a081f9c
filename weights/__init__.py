"""The models bundled with sdstrack, installed as the package data ``sdstrack.weights``.

Each sub-folder holds ``config.json`` + ``model.safetensors`` (and a model card); its name is a short
name that ``Tracker.from_pretrained`` resolves here, never on the network (see
:func:`sdstrack.checkpoint.bundled_models`).
"""
