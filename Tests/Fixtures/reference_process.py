#!/usr/bin/python3
"""What `timbre process` must match: python3-torch streaming a signal through a
model block by block, as a live host does.

    reference_process.py MODEL INPUT.npy OUTPUT.npy --block N --seed S [--method forward]

INPUT.npy is [channels, frames] float32 at the model's rate. The signal is
zero-padded to whole blocks; `torch.manual_seed(S)` is called once before the
first block; each block is [1, channels, N]; the output is trimmed to the
input's length (audio out) and saved as [channels, frames] float32.
"""
import argparse

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--block", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--method", default="forward")
    args = parser.parse_args()

    torch.set_num_threads(1)
    model = torch.jit.load(args.model)
    method = getattr(model, args.method)
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    channels, frames = x.shape
    blocks = -(-frames // args.block)
    padded = torch.zeros(channels, blocks * args.block)
    padded[:, :frames] = x
    if args.seed is not None:
        torch.manual_seed(args.seed)
    outputs = []
    with torch.inference_mode():
        for b in range(blocks):
            chunk = padded[None, :, b * args.block:(b + 1) * args.block]
            outputs.append(method(chunk)[0])
    y = torch.cat(outputs, -1)[:, :frames]
    np.save(args.output, y.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
