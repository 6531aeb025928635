package dicomkit

import (
	"fmt"

	"github.com/suyashkumar/dicom/pkg/uid"
)

// Kind says how a transfer syntax stores pixel data, and so what decodes it.
type Kind uint8

const (
	Native       Kind = iota // uncompressed: implicit or explicit VR, little or big endian, deflated
	RLE                      // RLE Lossless, which the viewer decodes itself
	JPEGBaseline             // JPEG Baseline (Process 1), which the viewer decodes itself
	Encapsulated             // any other encapsulated syntax: decoded by a codec registered with the viewer
)

// Syntax is what a reader needs to know about a transfer syntax.
type Syntax struct {
	UID, Name string
	Kind      Kind
	BigEndian bool
	Implicit  bool
	Deflated  bool
}

func (s Syntax) String() string { return fmt.Sprintf("%s (%s)", s.Name, s.UID) }

// Compressed reports pixel data that is encapsulated (RLE, JPEG, JPEG-LS, JPEG 2000, HTJ2K…).
func (s Syntax) Compressed() bool { return s.Kind != Native }

// BuiltIn reports a syntax the viewer decodes without a registered codec: native data, RLE and baseline
// JPEG. Whether a build decodes the others is viewer.CanDecode.
func (s Syntax) BuiltIn() bool { return s.Kind != Encapsulated }

// newerSyntaxes are encapsulated transfer syntaxes the DICOM library's dictionary lacks.
var newerSyntaxes = map[string]string{
	"1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000 Image Compression",
}

// LookupSyntax maps a transfer syntax UID to what a reader needs: the four native syntaxes, every
// encapsulated one the library's dictionary knows, and HTJ2K. An empty or unknown UID, or one that is not a
// transfer syntax, is ErrUnsupportedTransferSyntax.
func LookupSyntax(u string) (Syntax, error) {
	switch u {
	case uid.ImplicitVRLittleEndian:
		return Syntax{UID: u, Name: "Implicit VR Little Endian", Implicit: true}, nil
	case uid.ExplicitVRLittleEndian:
		return Syntax{UID: u, Name: "Explicit VR Little Endian"}, nil
	case uid.ExplicitVRBigEndian:
		return Syntax{UID: u, Name: "Explicit VR Big Endian", BigEndian: true}, nil
	case uid.DeflatedExplicitVRLittleEndian:
		return Syntax{UID: u, Name: "Deflated Explicit VR Little Endian", Deflated: true}, nil
	case "":
		return Syntax{}, fmt.Errorf("%w: the file meta information has no TransferSyntaxUID", ErrUnsupportedTransferSyntax)
	}
	if name, ok := newerSyntaxes[u]; ok {
		return Syntax{UID: u, Name: name, Kind: Encapsulated}, nil
	}
	info, err := uid.Lookup(u)
	if err != nil || info.Type != uid.TypeTransferSyntax {
		return Syntax{}, fmt.Errorf("%w: %q is not a known transfer syntax UID", ErrUnsupportedTransferSyntax, u)
	}
	// Every other known transfer syntax is explicit VR little endian with encapsulated pixel data.
	s := Syntax{UID: u, Name: info.Name, Kind: Encapsulated}
	switch u {
	case "1.2.840.10008.1.2.5":
		s.Kind = RLE
	case "1.2.840.10008.1.2.4.50":
		s.Kind = JPEGBaseline
	}
	return s, nil
}

// SyntaxName names a transfer syntax UID: "JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)", or the UID
// alone when it is not a known transfer syntax.
func SyntaxName(u string) string {
	s, err := LookupSyntax(u)
	if err != nil {
		return u
	}
	return s.String()
}
