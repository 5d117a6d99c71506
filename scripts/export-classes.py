#!/usr/bin/python3
"""Plays each class of a drum export of trigger contract 2 once, in PyTorch.

    /usr/bin/python3 scripts/export-classes.py MODEL.ts

For each velocity channel (class) a fresh instance decodes one hit at velocity 1 (then
0.25) with latent offsets 0 (the class's mean), over enough frames for the 2-s tail, and
prints the output's spectral centroid, its RMS and the RMS ratio of the 0.25 hit.
"""
import sys

import numpy as np
import torch

torch.set_num_threads(1)
path = sys.argv[1]
model = torch.jit.load(path)
classes = list(model.trigger_classes)
channels = int(model.decode_params[0])
ratio = int(model.decode_params[1])
frames = (88200 + ratio - 1) // ratio + 1


def hit(channel: int, velocity: float) -> np.ndarray:
    fresh = torch.jit.load(path)
    x = torch.zeros(1, channels, frames)
    x[0, channel, 0] = velocity
    return fresh.decode(x)[0, 0].numpy().astype(np.float64)[:88200]


for c, name in enumerate(classes):
    full, quarter = hit(c, 1.0), hit(c, 0.25)
    spectrum = np.abs(np.fft.rfft(full))
    freqs = np.fft.rfftfreq(len(full), 1 / int(model.sr))
    centroid = (spectrum * freqs).sum() / max(spectrum.sum(), 1e-12)
    rms = np.sqrt(np.mean(full * full))
    ratio_quarter = np.sqrt(np.mean(quarter * quarter)) / max(rms, 1e-12)
    print(f"{name:8s} centroid {centroid:7.0f} Hz  rms {rms:.4f}  rms ratio at 0.25 {ratio_quarter:.4f}")
