#!/usr/bin/env python3
"""Train a small transformer on CPU from text found on the machine, then
fine-tune it: real trained weights for deltafs's benchmarks.

Usage: train_tiny.py OUT [--steps N] [--ft-steps N] [--threads N]

Writes, as Hugging Face style safetensors files (written here with the
standard library, not with deltafs's code):
  OUT/bf16/base/model.safetensors  the base, trained from scratch (AdamW,
                                   lr 1e-3) on the license texts, in bf16
  OUT/bf16/ft/model.safetensors    the bf16 base loaded back and trained
                                   further on other text (package
                                   changelogs and copyright files): a full
                                   fine-tune, AdamW, lr 2e-5, saved in bf16
  OUT/fp16/base, OUT/fp16/ft       the same two models saved in fp16
Everything is seeded; a run takes a few minutes on two cores. On a
machine other work keeps busy, pass --threads 1 (about 100 s): two OpenBLAS
threads then spin against each other and barely progress. Results can
differ in the last bits between thread counts (summation order).
"""
import argparse
import glob
import gzip
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

BASE_TEXT = "/usr/share/common-licenses/*"
FT_TEXT = ["/usr/share/doc/*/copyright", "/usr/share/doc/*/changelog.Debian.gz"]


def read_text(patterns, limit):
    data = bytearray()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rb") as f:
                    data += f.read()
            except OSError:
                continue
            if len(data) >= limit:
                return bytes(data[:limit])
    return bytes(data)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.mlp_norm = nn.LayerNorm(d)
        self.up_proj = nn.Linear(d, 4 * d, bias=False)
        self.down_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.o_proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.down_proj(F.gelu(self.up_proj(self.mlp_norm(x))))


class TinyLM(nn.Module):
    def __init__(self, d=128, layers=4, heads=4, ctx=64):
        super().__init__()
        self.embed_tokens = nn.Embedding(256, d)
        self.pos = nn.Embedding(ctx, d)
        self.layers = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, 256, bias=False)

    def forward(self, idx):
        x = self.embed_tokens(idx) + self.pos(torch.arange(idx.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def train(model, data, steps, lr, seed, ctx=64, batch=16):
    g = torch.Generator().manual_seed(seed)
    text = torch.tensor(list(data), dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    for step in range(steps):
        i = torch.randint(0, len(text) - ctx - 1, (batch,), generator=g)
        x = torch.stack([text[j:j + ctx] for j in i])
        y = torch.stack([text[j + 1:j + ctx + 1] for j in i])
        loss = F.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print("step %d loss %.3f" % (step, loss.item()), flush=True)


DTYPES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}


def save(model, path, dtype):
    """Write the state dict as a safetensors file, tensors sorted by name."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to(dtype).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.element_size() == 2 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--ft-steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    base_text = read_text([BASE_TEXT], 2 << 20)
    ft_text = read_text(FT_TEXT, 2 << 20)
    print("base text %d bytes, fine-tune text %d bytes" % (len(base_text), len(ft_text)))
    model = TinyLM()
    train(model, base_text, a.steps, 1e-3, seed=2)
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
        save(model, os.path.join(a.out, name, "base", "model.safetensors"), dtype)
    base_sd = {k: v.clone() for k, v in model.state_dict().items()}
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
        # the saved checkpoint loaded back, as a fine-tune starts from it
        ft = TinyLM()
        ft.load_state_dict({k: v.to(dtype).float() for k, v in base_sd.items()})
        train(ft, ft_text, a.ft_steps, 2e-5, seed=3)
        save(ft, os.path.join(a.out, name, "ft", "model.safetensors"), dtype)


if __name__ == "__main__":
    main()
