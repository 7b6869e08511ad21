//! `frame`: length-prefixed frames read from whatever bytes a peer sends, with a small cap.
//!
//! Input: two bytes of cap (0 to 4095), one byte that shapes how the stream hands out its bytes
//! (how many per read), then the stream. The reader must return frames no longer than the cap,
//! account for every byte it consumed, and stop at the first error.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

use super::fixtures::Input;
use crate::frame::{FrameError, read_frame};

/// Prefix bytes of a frame.
const PREFIX_LEN: usize = 4;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let cap = usize::from(u16::from_le_bytes([input.byte(), input.byte()]) % 4096);
    let step = usize::from(input.byte() % 17) + 1;
    let stream = input.rest();
    let mut reader = Trickle {
        bytes: stream,
        step,
        reads: 0,
    };
    let mut consumed = 0usize;
    loop {
        let before = reader.bytes.len();
        let result = poll_once(read_frame(&mut reader, cap));
        let read = before - reader.bytes.len();
        match result {
            Ok(Some(frame)) => {
                assert!(
                    frame.len() <= cap,
                    "frame of {} over cap {cap}",
                    frame.len()
                );
                assert_eq!(
                    read,
                    PREFIX_LEN + frame.len(),
                    "frame bytes unaccounted for"
                );
                assert_eq!(
                    &stream[consumed + PREFIX_LEN..consumed + read],
                    frame.as_slice()
                );
                consumed += read;
            }
            Ok(None) => {
                assert_eq!(consumed, stream.len(), "clean end before the stream ended");
                return;
            }
            Err(FrameError::Oversized { len, cap: c }) => {
                assert_eq!(c, cap);
                assert!(len > cap as u64);
                assert_eq!(read, PREFIX_LEN, "an oversized frame's body was read");
                return;
            }
            Err(FrameError::Truncated { .. }) => {
                assert!(reader.bytes.is_empty(), "truncated before the stream ended");
                return;
            }
            Err(FrameError::Io(e)) => panic!("an in-memory stream cannot fail: {e}"),
        }
    }
}

/// Polls a future whose reader is always ready; it completes on the first poll.
fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory read never waits"),
    }
}

/// An in-memory stream that hands out at most `step` bytes per read, so frames arrive in
/// pieces the way they do from a network.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
    reads: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.reads += 1;
        // Vary the size of each read a little, from 1 to `step` bytes.
        let want = 1 + (self.reads * 7) % self.step;
        let n = want.min(buf.remaining()).min(self.bytes.len());
        let (now, later) = self.bytes.split_at(n);
        buf.put_slice(now);
        self.bytes = later;
        Poll::Ready(Ok(()))
    }
}
