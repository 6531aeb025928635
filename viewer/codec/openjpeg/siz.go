//go:build cgo

package openjpeg

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxTiles bounds the tiles of one frame. OpenJPEG allocates its per-tile parameters for every tile
// while it reads the main header, before any size can be checked: a header of 88 bytes declaring
// 400×1,835,408 pixels in 128×128 tiles made it take 650 MiB. DICOM frames hold one tile, or a few.
const maxTiles = 4096

// siz is what a codestream's SIZ marker segment declares.
type siz struct {
	Width, Height, Components, Tiles int
}

// readSIZ reads the SIZ marker segment of a J2K codestream, or of the codestream in a JP2 file, and
// checks its size against DICOM's limits and its tile count against maxTiles. It allocates nothing in proportion to what the segment declares.
func readSIZ(frame []byte) (siz, error) {
	cs := frame
	if bytes.HasPrefix(frame, jp2Signature) {
		var err error
		if cs, err = jp2Codestream(frame); err != nil {
			return siz{}, err
		}
	}
	// SOC, then SIZ: marker, Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz.
	if len(cs) < 4+38 || cs[0] != 0xFF || cs[1] != 0x4F || cs[2] != 0xFF || cs[3] != 0x51 {
		return siz{}, fmt.Errorf("codestream does not start with SOC and a complete SIZ marker segment")
	}
	u := func(i int) int64 { return int64(binary.BigEndian.Uint32(cs[4+4+4*i:])) }
	x, y, xo, yo, xt, yt, xto, yto := u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7)
	c := int(binary.BigEndian.Uint16(cs[4+36:]))
	if x <= xo || y <= yo || xt == 0 || yt == 0 || xto > xo || yto > yo || xto+xt <= xo || yto+yt <= yo {
		return siz{}, fmt.Errorf("SIZ marker segment declares an empty image or tiles that miss it")
	}
	if x-xo > 0xFFFF || y-yo > 0xFFFF {
		return siz{}, fmt.Errorf("codestream of %d×%d pixels, beyond the 65535 rows and columns of a DICOM frame", x-xo, y-yo)
	}
	if c < 1 || c > 4 {
		return siz{}, fmt.Errorf("codestream of %d components, where a DICOM frame has 1 to 4 samples per pixel", c)
	}
	tiles := ((x - xto + xt - 1) / xt) * ((y - yto + yt - 1) / yt)
	if tiles > maxTiles {
		return siz{}, fmt.Errorf("codestream of %d tiles, more than the %d a frame may have here", tiles, maxTiles)
	}
	return siz{Width: int(x - xo), Height: int(y - yo), Components: c, Tiles: int(tiles)}, nil
}

// jp2Codestream returns the contents of a JP2 file's contiguous codestream box (jp2c).
func jp2Codestream(b []byte) ([]byte, error) {
	for len(b) >= 8 {
		n := uint64(binary.BigEndian.Uint32(b))
		typ, hdr := string(b[4:8]), uint64(8)
		switch n {
		case 0: // the box runs to the end of the file
			n = uint64(len(b))
		case 1: // a 64-bit length follows the type
			if len(b) < 16 {
				return nil, fmt.Errorf("JP2 box %q is cut short", typ)
			}
			n, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if n < hdr || n > uint64(len(b)) {
			return nil, fmt.Errorf("JP2 box %q of %d bytes does not fit the %d left", typ, n, len(b))
		}
		if typ == "jp2c" {
			return b[hdr:n], nil
		}
		b = b[n:]
	}
	return nil, fmt.Errorf("JP2 file without a codestream box")
}
