#!/usr/bin/python3
"""Makes the small nn~-compatible TorchScript models committed as test fixtures.

Run with Debian's interpreter (it has python3-torch):
    /usr/bin/python3 Tests/Fixtures/make_models.py Tests/Fixtures/models

Each model imitates what matters of a streaming RAVE export: encode / decode /
forward with `<method>_params` buffers, an `sr` attribute, `get_methods` and
`get_attributes`, input/output labels, an nn~ attribute with getter and setter,
cached state carried between calls (a causal encoder that remembers the last
block's tail, a decoder that overlap-adds its tail into the next block), and a
decoder that draws noise (the deterministic variant does not).
"""
import os
import sys
from typing import List

import torch

RATIO = 256
LATENT = 4
SR = 44100


class TinyStreaming(torch.nn.Module):
    def __init__(self, channels: int, noise: float, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.sr = SR
        self.ratio = RATIO
        self.noise = noise
        self.channels = channels
        # Causal strided convolution: each latent frame sees its own RATIO
        # samples and the RATIO before them (kept in enc_cache across calls).
        self.enc_weight = torch.nn.Parameter(torch.randn(LATENT, channels, 2 * RATIO, generator=g) / (2 * RATIO) ** 0.5)
        self.dec_weight = torch.nn.Parameter(torch.randn(LATENT, channels, 2 * RATIO, generator=g) * 0.5 / LATENT ** 0.5)
        window = torch.hann_window(2 * RATIO, periodic=True)
        self.register_buffer("window", window)
        self.register_buffer("enc_cache", torch.zeros(1, channels, RATIO))
        self.register_buffer("dec_cache", torch.zeros(1, channels, RATIO))
        self.gain = 1.0
        for name, (cin, rin, cout, rout) in {
            "encode": (channels, 1, LATENT, RATIO),
            "decode": (LATENT, RATIO, channels, 1),
            "forward": (channels, 1, channels, 1),
        }.items():
            self.register_buffer(f"{name}_params", torch.tensor([cin, rin, cout, rout]))
        self.encode_input_labels = [f"(signal) input {i}" for i in range(channels)]
        self.encode_output_labels = [f"(signal) latent {i}" for i in range(LATENT)]
        self.decode_input_labels = [f"(signal) latent {i}" for i in range(LATENT)]
        self.decode_output_labels = [f"(signal) output {i}" for i in range(channels)]
        self.register_buffer("gain_params", torch.tensor([2]))
        self._methods = ["encode", "decode", "forward"]
        self._attributes = ["gain"]

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        cache = self.enc_cache
        if cache.shape[0] != x.shape[0]:
            cache = torch.zeros(x.shape[0], x.shape[1], self.ratio)
        padded = torch.cat([cache, x], -1)
        self.enc_cache = padded[..., -self.ratio:].clone()
        z = torch.nn.functional.conv1d(padded, self.enc_weight, stride=self.ratio)
        return torch.tanh(z)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = torch.nn.functional.conv_transpose1d(z, self.dec_weight * self.window, stride=self.ratio)
        cache = self.dec_cache
        if cache.shape[0] != y.shape[0]:
            cache = torch.zeros(y.shape[0], y.shape[1], self.ratio)
        tail = y[..., -self.ratio:].clone()
        head = y[..., :-self.ratio].clone()
        head[..., :self.ratio] = head[..., :self.ratio] + cache
        self.dec_cache = tail
        if self.noise > 0:
            head = head + self.noise * torch.randn_like(head)
        return torch.tanh(self.gain * head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def get_gain(self) -> float:
        return self.gain

    @torch.jit.export
    def set_gain(self, gain: float) -> int:
        if gain < 0:
            return -1
        self.gain = gain
        return 0


class TinyBatched(TinyStreaming):
    """Keeps its state the way RAVE's cached convolutions do: buffers with MAX_BATCH
    rows, updated in place, a call of batch B using the first B rows. One instance can
    then run several streams in one batched call (the engine's lanes). Deterministic,
    or (the noisy variant) drawing noise in decode as RAVE's decoder does."""

    MAX_BATCH = 64

    def __init__(self, seed: int, noise: float = 0.0):
        super().__init__(channels=1, noise=noise, seed=seed)
        self.register_buffer("enc_cache", torch.zeros(self.MAX_BATCH, 1, RATIO))
        self.register_buffer("dec_cache", torch.zeros(self.MAX_BATCH, 1, RATIO))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        padded = torch.cat([self.enc_cache[:b], x], -1)
        self.enc_cache[:b].copy_(padded[..., -self.ratio:])
        z = torch.nn.functional.conv1d(padded, self.enc_weight, stride=self.ratio)
        return torch.tanh(z)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        y = torch.nn.functional.conv_transpose1d(z, self.dec_weight * self.window, stride=self.ratio)
        head = y[..., :-self.ratio].clone()
        head[..., :self.ratio] = head[..., :self.ratio] + self.dec_cache[:b]
        self.dec_cache[:b].copy_(y[..., -self.ratio:])
        if self.noise > 0:
            head = head + self.noise * torch.randn_like(head)
        return torch.tanh(self.gain * head)


class TinyV1(torch.nn.Module):
    """Like a RAVE v1 export: a `sampling_rate` buffer, no `sr`, no get_methods."""

    def __init__(self):
        super().__init__()
        self.register_buffer("sampling_rate", torch.tensor(22050))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("encode_params", torch.tensor([1, 1, 2, 128]))
        self.register_buffer("decode_params", torch.tensor([2, 128, 1, 1]))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.reshape(x.shape[0], x.shape[1], -1, 128)
        return torch.cat([frames.mean(-1), frames.abs().amax(-1)], 1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, :1].repeat_interleave(128, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


class Plain(torch.nn.Module):
    """A real TorchScript module without the nn~ interface."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @torch.jit.export
    def scale(self, x: torch.Tensor, k: float) -> torch.Tensor:
        return x * k


class TinyDrum(torch.nn.Module):
    """Like timbre's drum exports (docs/DRUMVAE.md, the trigger contract), with a prior.

    `decode` takes D+1 channels at one frame per RATIO samples: channel 0 is a trigger;
    where it rises above 0.5 (against the previous frame, across calls) a one-shot of
    SHOT samples starts, shaped by channels 1..D of that frame; one-shots overlap-add and
    the part past the call's end is carried into the next calls (`dec_tail`).
    `prior` maps a temperature channel to D+1 latent channels, carrying a phase between
    calls (a prior with state). Deterministic; state for batch 1 only."""

    D = 3
    SHOT = 4 * RATIO

    def __init__(self):
        super().__init__()
        self.sr = SR
        self.ratio = RATIO
        self.shot = self.SHOT
        self.dims = self.D
        self.register_buffer("decode_params", torch.tensor([self.D + 1, RATIO, 1, 1]))
        self.register_buffer("prior_params", torch.tensor([1, RATIO, self.D + 1, RATIO]))
        self.register_buffer("dec_tail", torch.zeros(1, 1, self.SHOT))
        self.register_buffer("last_trigger", torch.zeros(1))
        self.register_buffer("phase", torch.zeros(1))
        t = torch.arange(self.SHOT, dtype=torch.float32)
        envelope = torch.exp(-t / (self.SHOT / 6))
        self.register_buffer("partials", torch.stack([
            torch.sin(2 * 3.141592653589793 * (k + 1) * 220.0 * t / SR) * envelope for k in range(self.D)]))
        self._methods = ["decode", "prior"]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        b, _, n = z.shape
        out = torch.zeros(b, 1, n * self.ratio + self.shot)
        out[:, :, :self.shot] += self.dec_tail[:1].expand(b, 1, self.shot)
        previous = float(self.last_trigger[0])
        for f in range(n):
            for i in range(b):
                value = float(z[i, 0, f])
                if value > 0.5 and (previous <= 0.5 or b > 1):
                    shot = (z[i, 1:, f].unsqueeze(1) * self.partials).sum(0)
                    start = f * self.ratio
                    out[i, 0, start:start + self.shot] += shot
            previous = float(z[0, 0, f])
        self.last_trigger[0] = previous
        self.dec_tail = out[:1, :, n * self.ratio:].clone()
        return torch.tanh(out[:, :, :n * self.ratio])

    @torch.jit.export
    def prior(self, x: torch.Tensor) -> torch.Tensor:
        b, _, n = x.shape
        z = torch.zeros(b, self.dims + 1, n)
        phase = float(self.phase[0])
        for f in range(n):
            phase = phase + 0.35
            z[:, 0, f] = 1.0 if (f + int(phase)) % 7 == 0 else 0.0
            for d in range(self.dims):
                z[:, d + 1, f] = x[:, 0, f] * torch.cos(torch.tensor(phase * (d + 1)))
        self.phase[0] = phase
        return z

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return []


class TinyDrum2(torch.nn.Module):
    """Like timbre's drum exports of trigger contract 2 (docs/DRUMVAE.md): `decode` takes
    one velocity channel per class (kick, hat), then D latent channels, at one frame per
    RATIO samples. Every frame where a velocity channel is above 0 starts a one-shot of
    that class (a decaying sine, 110 Hz or 3520 Hz, its level shaped by the latents) at
    gain min(value, 1); all hits of a frame sound, one-shots overlap-add and the part past
    the call's end is carried (`dec_tail`, a row per batch element up to MAX_BATCH, as
    RAVE's cached convolutions keep state). Linear in the velocity; deterministic."""

    D = 2
    SHOT = 4 * RATIO
    MAX_BATCH = 8

    def __init__(self):
        super().__init__()
        self.sr = SR
        self.ratio = RATIO
        self.shot = self.SHOT
        self.trigger_contract = 2
        self.trigger_classes = ["kick", "hat"]
        k = len(self.trigger_classes)
        self.classes = k
        self.register_buffer("decode_params", torch.tensor([k + self.D, RATIO, 1, 1]))
        self.decode_input_labels = [f"(velocity) {name}: above 0 starts a {name} at that gain" for name in self.trigger_classes] + [
            f"(latent) {i + 1}: offset from the class mean" for i in range(self.D)]
        self.decode_output_labels = ["(signal) output"]
        self.register_buffer("dec_tail", torch.zeros(self.MAX_BATCH, 1, self.SHOT))
        t = torch.arange(self.SHOT, dtype=torch.float32)
        envelope = torch.exp(-t / (self.SHOT / 6))
        self.register_buffer("shots", torch.stack([
            torch.sin(2 * 3.141592653589793 * f * t / SR) * envelope * 0.5 for f in (110.0, 3520.0)]))
        self._methods = ["decode"]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        b, _, n = z.shape
        out = torch.zeros(b, 1, n * self.ratio + self.shot)
        out[:, :, :self.shot] += self.dec_tail[:b]
        for i in range(b):
            for f in range(n):
                for c in range(self.classes):
                    value = float(z[i, c, f])
                    if value > 0.0:
                        level = 1.0 + 0.5 * float(torch.tanh(z[i, self.classes, f]))
                        start = f * self.ratio
                        out[i, 0, start:start + self.shot] += min(value, 1.0) * level * self.shots[c]
        self.dec_tail[:b].copy_(out[:, :, n * self.ratio:])
        return out[:, :, :n * self.ratio]

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return []


def save(module: torch.nn.Module, path: str) -> None:
    scripted = torch.jit.script(module.eval())
    scripted.save(path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "models")
    os.makedirs(out, exist_ok=True)
    save(TinyStreaming(channels=1, noise=0.02, seed=1), os.path.join(out, "tiny-streaming.ts"))
    save(TinyStreaming(channels=1, noise=0.0, seed=1), os.path.join(out, "tiny-deterministic.ts"))
    save(TinyStreaming(channels=2, noise=0.0, seed=2), os.path.join(out, "tiny-stereo.ts"))
    save(TinyBatched(seed=1), os.path.join(out, "tiny-batched.ts"))
    save(TinyBatched(seed=1, noise=0.02), os.path.join(out, "tiny-batched-noisy.ts"))
    save(TinyV1(), os.path.join(out, "tiny-v1.ts"))
    save(Plain(), os.path.join(out, "plain.ts"))
    save(TinyDrum(), os.path.join(out, "tiny-drum.ts"))
    save(TinyDrum2(), os.path.join(out, "tiny-kit.ts"))


if __name__ == "__main__":
    main()
