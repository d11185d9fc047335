// Checking a call's inclusion proof in the browser: the records' leaf hashes (RFC 8785
// canonical JSON, SHA-256), their paths to the root (RFC 9162) and the checkpoint's Ed25519
// signature (C2SP signed note), with the browser's own crypto. Nothing is taken on trust
// from the gateway but the verifier key, whose fingerprint the page shows for comparison.
"use strict";
(function () {
  const enc = new TextEncoder();

  function b64(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function same(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
  const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

  // RFC 8785: keys sorted by UTF-16 code units, numbers as ECMAScript prints them.
  function canonical(value) {
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      throw new Error("an integer beyond 2^53 cannot be checked in a browser");
    }
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    return "{" + Object.keys(value).sort().map(
      (k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  }

  async function rootFromInclusion(index, size, leaf, proof) {
    if (index < 0 || index >= size) throw new Error("leaf outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("the proof is longer than the tree is deep");
      if ((fn & 1) || fn === sn) {
        r = await nodeHash(p, r);
        if (!(fn & 1)) { while (fn && !(fn & 1)) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
    return r;
  }

  async function checkNote(checkpoint) {
    const [name, hashHex, keyB64] = splitKey(checkpoint.verifier_key);
    const raw = b64(keyB64);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 verifier key");
    const pub = raw.slice(1);
    const keyHash = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if (hex(keyHash) !== hashHex) throw new Error("the verifier key's hash does not match");
    const cut = checkpoint.note.indexOf("\n\n");
    if (cut < 0) throw new Error("the note has no signature");
    const text = checkpoint.note.slice(0, cut + 1);
    const prefix = "\u2014 " + name + " ";
    const line = checkpoint.note.slice(cut + 2).split("\n").find((l) => l.startsWith(prefix));
    if (!line) throw new Error("the note carries no signature of " + name);
    const sig = b64(line.slice(prefix.length));
    if (!same(sig.slice(0, 4), keyHash)) throw new Error("the signature names another key");
    const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(text));
    if (!ok) throw new Error("the checkpoint's signature does not verify");
    const [origin, size, root] = text.split("\n");
    if (Number(size) !== checkpoint.size || root !== checkpoint.root) {
      throw new Error("the signed note says another size or root");
    }
    const fingerprint = hex(await sha256(concat(enc.encode(name + "\n"), raw)));
    return { origin, size: Number(size), root: b64(root), fingerprint: "sha256:" + fingerprint };
  }

  function splitKey(text) {
    const first = text.indexOf("+"), second = text.indexOf("+", first + 1);
    return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  }
  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Every check, each as {what, ok, detail}: the page shows them all, not a verdict alone.
  async function check(answer) {
    const checks = [];
    let signed;
    try {
      signed = await checkNote(answer.checkpoint);
      checks.push({ what: `checkpoint of ${signed.size} records signed by ${signed.origin}`,
                    ok: true, detail: `key ${signed.fingerprint}` });
    } catch (e) {
      checks.push({ what: "checkpoint signature", ok: false, detail: String(e.message || e) });
      return checks;
    }
    for (const item of answer.records) {
      const what = `record ${item.index} (${item.kind})`;
      try {
        const leaf = await leafHash(enc.encode(canonical(item.record)));
        if (!same(leaf, b64(item.leaf_hash))) throw new Error("its leaf hash is not the record's");
        const root = await rootFromInclusion(item.index, signed.size, leaf,
                                             item.inclusion_proof.map(b64));
        if (!same(root, signed.root)) throw new Error("its path leads to another root");
        checks.push({ what, ok: true, detail: `in the tree of ${signed.size}` });
      } catch (e) {
        checks.push({ what, ok: false, detail: String(e.message || e) });
      }
    }
    return checks;
  }

  window.Proof = { check, canonical };
})();
