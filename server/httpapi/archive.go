package httpapi

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Orthanc streams a ZIP archive without a length and ends it by closing the connection, so an Orthanc that dies
// in the middle looks, over HTTP, like one that finished. zipTail keeps the end of the stream to tell the two
// apart: a whole ZIP ends with its End of Central Directory record, which says where the central directory
// starts and how long it is — and those must end exactly where the record begins.
type zipTail struct {
	n    int64 // bytes seen
	tail []byte
}

// zipTailKeep covers the largest end a ZIP can have: the record, its comment, and the ZIP64 locator and record.
const zipTailKeep = 22 + 65535 + 20 + 56

func (z *zipTail) Write(p []byte) (int, error) {
	z.n += int64(len(p))
	z.tail = append(z.tail, p...)
	if len(z.tail) > 2*zipTailKeep {
		z.tail = append(z.tail[:0], z.tail[len(z.tail)-zipTailKeep:]...)
	}
	return len(p), nil
}

var errZipCut = errors.New("the ZIP archive ends without its central directory: Orthanc stopped before the end")

// complete checks that the bytes seen are a whole ZIP archive.
func (z *zipTail) complete() error {
	t := z.tail
	base := z.n - int64(len(t)) // stream offset of t[0]
	for i := len(t) - 22; i >= 0 && i >= len(t)-22-65535; i-- {
		if !bytes.Equal(t[i:i+4], []byte("PK\x05\x06")) || i+22+int(binary.LittleEndian.Uint16(t[i+20:])) != len(t) {
			continue
		}
		end := base + int64(i) // where the central directory must end
		size, offset := uint64(binary.LittleEndian.Uint32(t[i+12:])), uint64(binary.LittleEndian.Uint32(t[i+16:]))
		if size == 0xffffffff || offset == 0xffffffff {
			// ZIP64: the locator before the record gives the ZIP64 record, which holds the real figures.
			if i < 20 || !bytes.Equal(t[i-20:i-16], []byte("PK\x06\x07")) {
				return errZipCut
			}
			at := int64(binary.LittleEndian.Uint64(t[i-12:])) - base
			if at < 0 || at+56 > int64(i-20) || !bytes.Equal(t[at:at+4], []byte("PK\x06\x06")) {
				return errZipCut
			}
			end = base + at
			size, offset = binary.LittleEndian.Uint64(t[at+40:]), binary.LittleEndian.Uint64(t[at+48:])
		}
		if offset+size != uint64(end) {
			return errZipCut
		}
		return nil
	}
	return errZipCut
}
