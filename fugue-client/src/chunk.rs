//! Splitting input into messages the server accepts.

use bytes::Bytes;
use fugue_protocol::MAX_INPUT_CHUNK;

/// Splits `data` into pieces of at most [`MAX_INPUT_CHUNK`] bytes without copying.
pub(crate) fn chunks(mut data: Bytes) -> impl Iterator<Item = Bytes> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let n = data.len().min(MAX_INPUT_CHUNK);
        Some(data.split_to(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_max_input_chunk() {
        let data = Bytes::from(vec![7u8; MAX_INPUT_CHUNK * 2 + 10]);
        let sizes: Vec<usize> = chunks(data).map(|chunk| chunk.len()).collect();
        assert_eq!(sizes, vec![MAX_INPUT_CHUNK, MAX_INPUT_CHUNK, 10]);
    }

    #[test]
    fn chunks_of_empty_input_is_nothing() {
        assert_eq!(chunks(Bytes::new()).count(), 0);
    }
}
