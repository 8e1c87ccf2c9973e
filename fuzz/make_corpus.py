#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ (small valid and edge-case files).

Run from anywhere: python3 fuzz/make_corpus.py. Uses only the standard library (no numpy):
the npy files are written the way numpy 1.x writes them (header padded with spaces and a
final newline so that the data starts at a multiple of 64).

fuzz_idx and fuzz_npy seeds are written here. The fuzz_checkpoint seeds are checkpoints the
training library itself writes (Trainer::save's layout, save_checkpoint), so the harness writes
them: when build-fuzz/fuzz/fuzz_checkpoint exists ($FUZZ_BUILD_DIR, default build-fuzz, relative to
the repository), this script replaces fuzz/corpus/fuzz_checkpoint/*.json with what
`TG_FUZZ_WRITE_SEEDS=fuzz/corpus/fuzz_checkpoint build-fuzz/fuzz/fuzz_checkpoint` writes (build it
first: scripts/fuzz.sh); otherwise it leaves
them alone and says so.
"""
import glob
import gzip
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = "/usr/share/datasets/fashion-mnist"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def deterministic_gzip(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_corpus():
    img = idx(0x803, [2, 3, 4], range(0, 240, 10))
    lab = idx(0x801, [2], [9, 0])
    write("fuzz_idx", "images_2x3x4", img)
    write("fuzz_idx", "labels_2", lab)
    write("fuzz_idx", "images_2x3x4.gz", deterministic_gzip(img))
    write("fuzz_idx", "labels_2.gz", deterministic_gzip(lab))
    # images immediately followed by labels: fuzz_idx also loads the pair as a dataset
    write("fuzz_idx", "dataset_pair", img + lab)
    write("fuzz_idx", "dataset_bad_label", idx(0x803, [1, 1, 1], [7]) + idx(0x801, [1], [10]))
    write("fuzz_idx", "dataset_count_mismatch", img + idx(0x801, [3], [1, 2, 3]))
    # first three Fashion-MNIST test images and labels, when the dataset package is installed
    try:
        with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
            real = f.read(16 + 3 * 784)
        with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
            real_lab = f.read(8 + 3)
        real = idx(0x803, [3, 28, 28], real[16:])
        real_lab = idx(0x801, [3], real_lab[8:])
        write("fuzz_idx", "fashion_t10k_first3", real + real_lab)
    except OSError:
        pass
    # edge cases
    write("fuzz_idx", "truncated_pixels", idx(0x803, [10, 28, 28], [1] * 20))
    write("fuzz_idx", "trailing_byte", img + b"\x00")
    write("fuzz_idx", "huge_dims", idx(0x803, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], [0] * 8))
    write("fuzz_idx", "limit_exact_short", idx(0x803, [1 << 14, 1 << 8, 1 << 8], [0] * 8))  # exactly 1 GiB claimed
    write("fuzz_idx", "huge_labels.gz", deterministic_gzip(idx(0x801, [1000000000], [0] * 64)))
    write("fuzz_idx", "zero_dim", idx(0x803, [3, 0, 28], []))
    write("fuzz_idx", "wrong_type", idx(0x0D03, [1, 1, 1], [0]))
    write("fuzz_idx", "header_only", b"\x00\x00\x08\x03\x00\x00")
    write("fuzz_idx", "corrupt_gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06")
    gz = deterministic_gzip(lab)
    write("fuzz_idx", "labels_2_gz_no_trailer", gz[:-8])


def npy(header, payload, major=1, align=64):
    text = header.encode("latin-1")
    pre = 10 if major == 1 else 12
    total = pre + len(text) + 1
    pad = (-total) % align
    text = text + b" " * pad + b"\n"
    length = struct.pack("<H", len(text)) if major == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + length + text + payload


def dict_(descr, shape, fortran="False"):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def npy_corpus():
    f6 = struct.pack("<6f", 1.5, -2.0, 0.0, float("inf"), float("nan"), -7.0)
    d3 = struct.pack("<3d", 1.0, -0.0, 1e300)
    write("fuzz_npy", "f4_2x3_v1", npy(dict_("<f4", "(2, 3)"), f6))
    write("fuzz_npy", "f8_rank1_v1", npy(dict_("<f8", "(3,)"), d3))
    write("fuzz_npy", "f4_2x3_v2", npy(dict_("<f4", "(2, 3)"), f6, major=2))
    write("fuzz_npy", "f4_2x3_v3", npy(dict_("<f4", "(2, 3)"), f6, major=3))
    write("fuzz_npy", "f4_0x4_empty", npy(dict_("<f4", "(0, 4)"), b""))
    write("fuzz_npy", "f8_reordered_keys", npy("{'shape': (1, 3), 'fortran_order': False, 'descr': '<f8'}", d3))
    write("fuzz_npy", "f4_double_quotes_tab", npy('{"descr":"<f4",\t"fortran_order":False,"shape":(2,3)}', f6))
    write("fuzz_npy", "f4_header_len_0x80", npy(dict_("<f4", "(2, 3)"), f6, align=192))  # length byte >= 0x80
    # edge cases
    write("fuzz_npy", "fortran_true", npy(dict_("<f4", "(2, 3)", "True"), f6))
    write("fuzz_npy", "big_endian", npy(dict_(">f4", "(2, 3)"), f6))
    write("fuzz_npy", "truncated_data", npy(dict_("<f4", "(2, 3)"), f6[:-1]))
    write("fuzz_npy", "trailing_data", npy(dict_("<f4", "(2, 3)"), f6 + b"\x00"))
    write("fuzz_npy", "rank3", npy(dict_("<f4", "(1, 2, 3)"), f6))
    write("fuzz_npy", "huge_shape", npy(dict_("<f8", "(18446744073709551615, 2)"), d3))
    write("fuzz_npy", "overflow_shape", npy(dict_("<f4", "(4294967296, 4294967296)"), f6))
    write("fuzz_npy", "not_a_tuple", npy(dict_("<f4", "(6)"), f6))
    write("fuzz_npy", "header_len_past_end", npy(dict_("<f4", "(2, 3)"), f6)[:60])
    # numpy's own files as they come: Fortran order, and integer labels
    write("fuzz_npy", "f8_fortran_2x3", npy(dict_("<f8", "(2, 3)", "True"), struct.pack("<6d", 1, 4, 2, 5, 3, 6)))
    write("fuzz_npy", "i8_labels", npy(dict_("<i8", "(4,)"), struct.pack("<4q", 0, 9, 3, 1)))
    write("fuzz_npy", "u1_labels_column", npy(dict_("|u1", "(4, 1)"), bytes([0, 9, 3, 1])))
    write("fuzz_npy", "i4_negative_label", npy(dict_("<i4", "(2,)"), struct.pack("<2i", 1, -1)))
    write("fuzz_npy", "structured_dtype", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", f6[:8]))


def checkpoint_corpus():
    root = os.path.dirname(HERE)
    build = os.environ.get("FUZZ_BUILD_DIR", "build-fuzz")
    binary = os.path.join(root, build, "fuzz", "fuzz_checkpoint")
    out = os.path.join(HERE, "corpus", "fuzz_checkpoint")
    if not os.access(binary, os.X_OK):
        print("fuzz_checkpoint seeds left as they are: %s is not built" % binary, file=sys.stderr)
        return
    for old in glob.glob(os.path.join(out, "*.json")):
        os.remove(old)
    os.makedirs(out, exist_ok=True)
    subprocess.run([binary], env=dict(os.environ, TG_FUZZ_WRITE_SEEDS=out), check=True)
    for f in glob.glob(os.path.join(out, "*.json")):
        os.chmod(f, 0o644)


if __name__ == "__main__":
    idx_corpus()
    npy_corpus()
    checkpoint_corpus()
