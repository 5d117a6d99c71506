#!/usr/bin/env python3
"""The baseline of `timbre bench phase`: librosa.griffinlim on the same clips.

Reads clips (float32 .npy, clips x samples), takes each clip's STFT magnitude with
librosa (n_fft, hop, Hann, center=True, zero padding: the same settings as timbre),
runs librosa.griffinlim (momentum 0.99, random start with a fixed seed) for each
iteration count, and writes the reconstructions (float32 .npy, counts x clips x samples)
and the seconds each call took (JSON). timbre measures spectral convergence itself,
so both sides are scored by the same code.

Run by `timbre bench phase` inside its own virtual environment with librosa installed.
"""
import argparse
import json
import time

import numpy as np
import librosa


def main():
    p = argparse.ArgumentParser()
    p.add_argument("clips")
    p.add_argument("output")
    p.add_argument("timings")
    p.add_argument("--fft", type=int, default=1024)
    p.add_argument("--hop", type=int, default=128)
    p.add_argument("--iterations", default="32,100")
    p.add_argument("--momentum", type=float, default=0.99)
    a = p.parse_args()
    counts = [int(x) for x in a.iterations.split(",")]
    clips = np.load(a.clips).astype(np.float32)
    n, length = clips.shape

    def magnitude(y):
        return np.abs(librosa.stft(y, n_fft=a.fft, hop_length=a.hop, window="hann", center=True, pad_mode="constant"))

    def invert(S, iterations):
        return librosa.griffinlim(S, n_iter=iterations, hop_length=a.hop, n_fft=a.fft, window="hann",
                                  center=True, length=length, momentum=a.momentum, init="random", random_state=0)

    # Warm up (imports, caches, any JIT) outside the timing.
    invert(magnitude(clips[0]), 2)
    out = np.zeros((len(counts), n, length), dtype=np.float32)
    seconds = [[0.0] * n for _ in counts]
    for i in range(n):
        S = magnitude(clips[i])
        for j, iterations in enumerate(counts):
            start = time.perf_counter()
            y = invert(S, iterations)
            seconds[j][i] = time.perf_counter() - start
            out[j, i, :] = y[:length]
    np.save(a.output, out)
    with open(a.timings, "w") as f:
        json.dump({"librosa": librosa.__version__, "iterations": counts, "seconds": seconds}, f)


if __name__ == "__main__":
    main()
