package onnxpb

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed reports bytes that are not a well-formed ONNX ModelProto.
var ErrMalformed = errors.New("malformed ONNX model")

// Summary is what Inspect reads from a model without running it.
type Summary struct {
	IRVersion        int64
	Opsets           []OpsetID
	ProducerName     string
	ProducerVersion  string
	Domain           string
	ModelVersion     int64
	DocString        string
	Metadata         []KeyValue
	GraphName        string
	Inputs           []ValueInfo // graph inputs that are not initializers
	Outputs          []ValueInfo
	NodeCount        int
	OpTypes          []string // sorted, distinct
	InitializerCount int
	Parameters       int64 // elements in all initializers, saturating at math.MaxInt64
}

// Opset returns the version of the default (ai.onnx) operator set, or 0 when the model imports none.
func (s *Summary) Opset() int64 {
	for _, o := range s.Opsets {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// MetadataValue returns the value of a metadata_props key.
func (s *Summary) MetadataValue(key string) (string, bool) {
	for _, kv := range s.Metadata {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Inspect decodes the model-level fields, the graph's inputs and outputs, and counts of nodes and weights.
// Unknown fields are skipped; anything that is not valid protobuf wire data is an ErrMalformed.
func Inspect(data []byte) (*Summary, error) {
	s := &Summary{}
	var graph []byte
	haveGraph := false
	err := eachField(data, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == modelIRVersion && typ == protowire.VarintType:
			s.IRVersion = int64(v)
		case num == modelProducerName && typ == protowire.BytesType:
			s.ProducerName = string(b)
		case num == modelProducerVersion && typ == protowire.BytesType:
			s.ProducerVersion = string(b)
		case num == modelDomain && typ == protowire.BytesType:
			s.Domain = string(b)
		case num == modelModelVersion && typ == protowire.VarintType:
			s.ModelVersion = int64(v)
		case num == modelDocString && typ == protowire.BytesType:
			s.DocString = string(b)
		case num == modelGraph && typ == protowire.BytesType:
			graph, haveGraph = b, true
		case num == modelOpsetImport && typ == protowire.BytesType:
			var o OpsetID
			err := eachField(b, func(n protowire.Number, t protowire.Type, v uint64, b []byte) error {
				switch {
				case n == opsetDomain && t == protowire.BytesType:
					o.Domain = string(b)
				case n == opsetVersion && t == protowire.VarintType:
					o.Version = int64(v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			s.Opsets = append(s.Opsets, o)
		case num == modelMetadataProps && typ == protowire.BytesType:
			var kv KeyValue
			err := eachField(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				switch {
				case n == entryKey && t == protowire.BytesType:
					kv.Key = string(b)
				case n == entryValue && t == protowire.BytesType:
					kv.Value = string(b)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("metadata_props: %w", err)
			}
			s.Metadata = append(s.Metadata, kv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.IRVersion == 0 {
		return nil, fmt.Errorf("%w: no ir_version", ErrMalformed)
	}
	if !haveGraph {
		return nil, fmt.Errorf("%w: no graph", ErrMalformed)
	}
	if err := s.inspectGraph(graph); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Summary) inspectGraph(data []byte) error {
	var inputs []ValueInfo
	initializers := map[string]bool{}
	ops := map[string]bool{}
	err := eachField(data, func(num protowire.Number, typ protowire.Type, _ uint64, b []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case graphName:
			s.GraphName = string(b)
		case graphNode:
			s.NodeCount++
			return eachField(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				if n == nodeOpType && t == protowire.BytesType {
					ops[string(b)] = true
				}
				return nil
			})
		case graphInitializer:
			name, count, err := tensorNameAndSize(b)
			if err != nil {
				return fmt.Errorf("initializer: %w", err)
			}
			s.InitializerCount++
			initializers[name] = true
			if s.Parameters > math.MaxInt64-count {
				s.Parameters = math.MaxInt64
			} else {
				s.Parameters += count
			}
		case graphInput, graphOutput:
			v, err := decodeValueInfo(b)
			if err != nil {
				return err
			}
			if num == graphInput {
				inputs = append(inputs, v)
			} else {
				s.Outputs = append(s.Outputs, v)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	for _, in := range inputs {
		if !initializers[in.Name] {
			s.Inputs = append(s.Inputs, in)
		}
	}
	for op := range ops {
		s.OpTypes = append(s.OpTypes, op)
	}
	slices.Sort(s.OpTypes)
	return nil
}

// tensorNameAndSize reads a TensorProto's name and element count (dims may be packed or not).
func tensorNameAndSize(data []byte) (string, int64, error) {
	var name string
	count := int64(1)
	addDim := func(d uint64) {
		switch {
		case int64(d) < 0 || count < 0:
			count = -1
		case d != 0 && count > math.MaxInt64/int64(d):
			count = math.MaxInt64
		default:
			count *= int64(d)
		}
	}
	err := eachField(data, func(n protowire.Number, t protowire.Type, v uint64, b []byte) error {
		switch {
		case n == tensorName && t == protowire.BytesType:
			name = string(b)
		case n == tensorDims && t == protowire.VarintType:
			addDim(v)
		case n == tensorDims && t == protowire.BytesType:
			for len(b) > 0 {
				d, k := protowire.ConsumeVarint(b)
				if k < 0 {
					return fmt.Errorf("%w: packed dims", ErrMalformed)
				}
				addDim(d)
				b = b[k:]
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	if count < 0 {
		return "", 0, fmt.Errorf("%w: tensor %q has a negative dimension", ErrMalformed, name)
	}
	return name, count, nil
}

func decodeValueInfo(data []byte) (ValueInfo, error) {
	var v ValueInfo
	err := eachField(data, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
		if t != protowire.BytesType {
			return nil
		}
		switch n {
		case valueInfoName:
			v.Name = string(b)
		case valueInfoDocString:
			v.DocString = string(b)
		case valueInfoType:
			return eachField(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				if n != typeTensorType || t != protowire.BytesType {
					return nil
				}
				return decodeTensorType(b, &v)
			})
		}
		return nil
	})
	if err != nil {
		return ValueInfo{}, fmt.Errorf("value info %q: %w", v.Name, err)
	}
	return v, nil
}

func decodeTensorType(data []byte, v *ValueInfo) error {
	return eachField(data, func(n protowire.Number, t protowire.Type, x uint64, b []byte) error {
		switch {
		case n == tensorTypeElemType && t == protowire.VarintType:
			v.ElemType = DataType(int32(x))
		case n == tensorTypeShape && t == protowire.BytesType:
			v.Dims = []Dim{}
			return eachField(b, func(n protowire.Number, t protowire.Type, _ uint64, b []byte) error {
				if n != shapeDim || t != protowire.BytesType {
					return nil
				}
				var d Dim
				err := eachField(b, func(n protowire.Number, t protowire.Type, x uint64, b []byte) error {
					switch {
					case n == dimValue && t == protowire.VarintType:
						d.Value = int64(x)
					case n == dimParam && t == protowire.BytesType:
						d.Param = string(b)
					}
					return nil
				})
				if err != nil {
					return err
				}
				v.Dims = append(v.Dims, d)
				return nil
			})
		}
		return nil
	})
}

// eachField calls fn for every field of one message: v holds varint and fixed values, b the bytes of
// length-delimited fields. Groups are skipped.
func eachField(data []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		data = data[n:]
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(data)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(data)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(data)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(data)
		default:
			n = protowire.ConsumeFieldValue(num, typ, data)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		data = data[n:]
		if err := fn(num, typ, v, b); err != nil {
			return err
		}
	}
	return nil
}
