"""Makes a real, untrained msprior export combined with a RAVE export, the way msprior does.

Run with the python of a venv made by `/usr/bin/python3 -m venv --system-site-packages VENV`
(Debian's python3-torch stays visible) and
`VENV/bin/pip install --no-deps acids-msprior==1.1.3 nn-tilde==1.5.6 cached-conv==2.5.0 gin-config einops absl-py`:

    VENV/bin/python Tests/Fixtures/make_msprior.py RAVE.ts OUT_DIR

Steps, following the package's own scripts (msprior_scripts/export.py and combine.py):
1. a run folder with a `config.gin` (the package's `recurrent.gin`, a GRU decoder, made small)
   and a checkpoint of the untrained `attention.Prior` (what `msprior train` would leave);
2. `msprior export --run RUN --temporal_ratio R --continuous` (its `ScriptedPrior`: `forward`
   takes the RAVE latents [L, R] and returns the next latents plus perplexity [L + 1, R]);
3. `msprior combine --prior RUN/RUN.ts --rave RAVE.ts --name OUT_DIR/combined` (its
   `CombinedModule`: encode/decode/forward from RAVE, `prior` from msprior, and the attributes
   temperature, listen, learn_context, reset set through `set_<attribute>`).
The package needs pytorch_lightning, lmdb and udls only for training and datasets: small
stand-ins are put on the path so its modules import. Prints the combined file's path.
"""
import os
import subprocess
import sys
import types

import torch

STUBS = {
    # attention.Prior subclasses LightningModule; utils.EMA subclasses Callback.
    "pytorch_lightning/__init__.py": "import torch\nLightningModule = torch.nn.Module\nclass Callback:\n    pass\n",
    # dataset.py (imported by the gin configs) imports these at module level only.
    "lmdb/__init__.py": "",
    "udls/__init__.py": "class AudioExample:\n    pass\n",
    "udls/generated.py": "class AudioExample:\n    pass\n",
}

CONFIG = """include "recurrent.gin"

MODEL_DIM = 64
NUM_TOKENS = 64
NUM_QUANTIZERS = {latent}
NUM_LAYERS = 1
NUM_HEADS = 2
HEAD_DIM = 32
SEQ_LEN = 64
"""


def main(rave_path: str, out_dir: str) -> None:
    out_dir = os.path.abspath(out_dir)
    stubs = os.path.join(out_dir, "stubs")
    for name, text in STUBS.items():
        path = os.path.join(stubs, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    env = dict(os.environ, PYTHONPATH=stubs + os.pathsep + os.environ.get("PYTHONPATH", ""))
    sys.path.insert(0, stubs)

    rave = torch.jit.load(rave_path)
    latent, ratio = int(rave.encode_params[2]), int(rave.encode_params[3])

    # 1. The run folder: config and an untrained checkpoint.
    import gin
    import msprior  # noqa: F401  (adds the package's config folders to gin's search path)
    from msprior import attention

    run = os.path.join(out_dir, "msprior-run")
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "config.gin"), "w") as f:
        f.write(CONFIG.format(latent=latent))
    gin.parse_config_file(os.path.join(run, "config.gin"))
    # The exporter builds with one batch row (`--batch_size 1`): so does the checkpoint, whose
    # GRU state buffer has a row per batch element.
    import cached_conv as cc
    cc.MAX_BATCH_SIZE = 1
    torch.manual_seed(0)
    prior = attention.Prior()
    torch.save({"state_dict": prior.state_dict(), "callbacks": {}}, os.path.join(run, "last.ckpt"))

    # 2. and 3. The package's own commands.
    msprior = os.path.join(os.path.dirname(sys.executable), "msprior")
    subprocess.run([sys.executable, msprior, "export", "--run", run, "--temporal_ratio", str(ratio), "--continuous"],
                   check=True, env=env, cwd=out_dir, stdout=subprocess.DEVNULL)
    name = os.path.join(out_dir, "combined")
    subprocess.run([sys.executable, msprior, "combine", "--prior", os.path.join(run, "msprior-run.ts"),
                    "--rave", os.path.abspath(rave_path), "--name", name],
                   check=True, env=env, cwd=out_dir, stdout=subprocess.DEVNULL)
    print(name + ".ts")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_msprior.py RAVE.ts OUT_DIR")
    main(sys.argv[1], sys.argv[2])
