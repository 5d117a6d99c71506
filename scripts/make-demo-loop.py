#!/usr/bin/python3
"""Synthesises the bundled demo sound, Resources/demo/drum-loop.wav: two bars
of a 120 BPM pattern (kick, snare, closed hats) at 44.1 kHz, 16-bit mono.
Run with /usr/bin/python3 (numpy from Debian)."""
import os
import wave

import numpy as np

SR = 44100
rng = np.random.default_rng(2026)


def kick(n):
    t = np.arange(n) / SR
    return np.sin(2 * np.pi * np.cumsum(45 + 120 * np.exp(-t * 35)) / SR) * np.exp(-t * 9)


def snare(n):
    t = np.arange(n) / SR
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30) * 0.5
    noise = rng.normal(size=n) * np.exp(-t * 22) * 0.5
    return body + noise


def hat(n):
    t = np.arange(n) / SR
    noise = rng.normal(size=n)
    noise = np.diff(noise, prepend=0)  # tilt towards the highs
    return noise * np.exp(-t * 90) * 0.25


def main():
    step = SR * 60 // 120 // 4  # sixteenth notes at 120 BPM
    steps = 32
    out = np.zeros(step * steps + SR // 2)
    pattern = {0: kick, 4: snare, 8: kick, 10: kick, 12: snare}
    for s in range(steps):
        i = s * step
        n = SR // 2
        if s % 16 in pattern:
            out[i:i + n] += pattern[s % 16](n)
        if s % 2 == 0:
            out[i:i + n] += hat(n)
    out = out / np.abs(out).max() * 0.8
    path = os.path.join(os.path.dirname(__file__), "..", "Resources", "demo", "drum-loop.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((out * 32767).astype("<i2").tobytes())
    print(f"wrote {os.path.normpath(path)} ({len(out) / SR:.2f} s)")


if __name__ == "__main__":
    main()
