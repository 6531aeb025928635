// Package onnxpb writes and inspects ONNX models (onnx.proto ModelProto) with protowire, field number by field
// number, so that Go programs can produce small ONNX graphs (MLPs, test fixtures) without generated code.
//
// Only the parts of onnx.proto needed for plain inference graphs are covered: models, graphs, nodes, attributes
// of scalar and list types, dense tensors stored as raw little-endian data, and tensor value infos.
package onnxpb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is onnx.proto's TensorProto.DataType.
type DataType int32

// The tensor element types this package writes.
const (
	Float32 DataType = 1
	Int32   DataType = 6
	Int64   DataType = 7
)

// String names the type the way ONNX does (for error messages and cards).
func (t DataType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("onnx-type-%d", int32(t))
}

// AttrType is onnx.proto's AttributeProto.AttributeType.
type AttrType int32

// The attribute types this package writes.
const (
	AttrFloat   AttrType = 1
	AttrInt     AttrType = 2
	AttrString  AttrType = 3
	AttrFloats  AttrType = 6
	AttrInts    AttrType = 7
	AttrStrings AttrType = 8
)

// ErrInvalidModel reports a model that cannot be encoded as given (sizes that do not match, empty names).
var ErrInvalidModel = errors.New("invalid ONNX model")

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Metadata        []KeyValue // written in this order
	Graph           Graph
}

// OpsetID is an OperatorSetIdProto; the empty domain is the default "ai.onnx" operator set.
type OpsetID struct {
	Domain  string
	Version int64
}

// KeyValue is a StringStringEntryProto (model metadata_props).
type KeyValue struct {
	Key, Value string
}

// Graph is a GraphProto.
type Graph struct {
	Name         string
	DocString    string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is a NodeProto.
type Node struct {
	Name       string
	OpType     string
	Domain     string
	Inputs     []string
	Outputs    []string
	Attributes []Attribute
}

// Attribute is an AttributeProto holding one of the scalar or list types.
type Attribute struct {
	Name    string
	Type    AttrType
	Float   float32
	Int     int64
	String  string
	Floats  []float32
	Ints    []int64
	Strings []string
}

// IntAttr returns an INT attribute.
func IntAttr(name string, v int64) Attribute { return Attribute{Name: name, Type: AttrInt, Int: v} }

// FloatAttr returns a FLOAT attribute.
func FloatAttr(name string, v float32) Attribute {
	return Attribute{Name: name, Type: AttrFloat, Float: v}
}

// StringAttr returns a STRING attribute.
func StringAttr(name, v string) Attribute { return Attribute{Name: name, Type: AttrString, String: v} }

// IntsAttr returns an INTS attribute.
func IntsAttr(name string, v ...int64) Attribute {
	return Attribute{Name: name, Type: AttrInts, Ints: v}
}

// FloatsAttr returns a FLOATS attribute.
func FloatsAttr(name string, v ...float32) Attribute {
	return Attribute{Name: name, Type: AttrFloats, Floats: v}
}

// Tensor is a dense TensorProto; its values are written as raw_data.
type Tensor struct {
	Name     string
	DataType DataType
	Dims     []int64
	Float32s []float32 // for Float32
	Int64s   []int64   // for Int64
	Int32s   []int32   // for Int32
}

// Dim is one dimension of a tensor shape: a fixed size, or a symbolic name when Param is set.
type Dim struct {
	Value int64
	Param string
}

// Fixed returns a fixed-size dimension.
func Fixed(n int64) Dim { return Dim{Value: n} }

// Symbolic returns a named dimension whose size is set at run time.
func Symbolic(name string) Dim { return Dim{Param: name} }

// String prints a dimension as ONNX tools do: its size, or its name.
func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	return fmt.Sprint(d.Value)
}

// ValueInfo is a ValueInfoProto of tensor type.
type ValueInfo struct {
	Name      string
	ElemType  DataType
	Dims      []Dim
	DocString string
}

// Field numbers of onnx.proto (IR version 8).
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelModelVersion    = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14

	opsetDomain  = 1
	opsetVersion = 2

	entryKey   = 1
	entryValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName    = 1
	attrF       = 2
	attrI       = 3
	attrS       = 4
	attrFloats  = 7
	attrInts    = 8
	attrStrings = 9
	attrType    = 20

	tensorDims     = 1
	tensorDataType = 2
	tensorName     = 8
	tensorRawData  = 9

	valueInfoName      = 1
	valueInfoType      = 2
	valueInfoDocString = 3

	typeTensorType = 1

	tensorTypeElemType = 1
	tensorTypeShape    = 2

	shapeDim = 1

	dimValue = 1
	dimParam = 2
)

// Marshal encodes the model as ONNX protobuf bytes. The output depends only on the model's contents, so equal
// models give byte-identical files.
func (m *Model) Marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var b []byte
	b = appendVarintField(b, modelIRVersion, uint64(m.IRVersion))
	b = appendStringField(b, modelProducerName, m.ProducerName)
	b = appendStringField(b, modelProducerVersion, m.ProducerVersion)
	b = appendStringField(b, modelDomain, m.Domain)
	b = appendVarintField(b, modelModelVersion, uint64(m.ModelVersion))
	b = appendStringField(b, modelDocString, m.DocString)
	b = appendMessageField(b, modelGraph, m.Graph.encode())
	for _, o := range m.Opsets {
		var ob []byte
		ob = appendStringField(ob, opsetDomain, o.Domain)
		ob = protowire.AppendTag(ob, opsetVersion, protowire.VarintType)
		ob = protowire.AppendVarint(ob, uint64(o.Version))
		b = appendMessageField(b, modelOpsetImport, ob)
	}
	for _, kv := range m.Metadata {
		var eb []byte
		eb = appendStringField(eb, entryKey, kv.Key)
		eb = appendStringField(eb, entryValue, kv.Value)
		b = appendMessageField(b, modelMetadataProps, eb)
	}
	return b, nil
}

func (m *Model) validate() error {
	if m.IRVersion <= 0 {
		return fmt.Errorf("%w: IR version %d", ErrInvalidModel, m.IRVersion)
	}
	if len(m.Opsets) == 0 {
		return fmt.Errorf("%w: no opset import", ErrInvalidModel)
	}
	for _, t := range m.Graph.Initializers {
		if err := t.validate(); err != nil {
			return err
		}
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "" || len(n.Outputs) == 0 {
			return fmt.Errorf("%w: node %q has no op type or no output", ErrInvalidModel, n.Name)
		}
	}
	for _, v := range append(append([]ValueInfo(nil), m.Graph.Inputs...), m.Graph.Outputs...) {
		if v.Name == "" {
			return fmt.Errorf("%w: graph input or output without a name", ErrInvalidModel)
		}
	}
	return nil
}

func (t *Tensor) validate() error {
	if t.Name == "" {
		return fmt.Errorf("%w: initializer without a name", ErrInvalidModel)
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("%w: tensor %s has negative dimension %d", ErrInvalidModel, t.Name, d)
		}
		n *= d
	}
	var have int
	switch t.DataType {
	case Float32:
		have = len(t.Float32s)
	case Int64:
		have = len(t.Int64s)
	case Int32:
		have = len(t.Int32s)
	default:
		return fmt.Errorf("%w: tensor %s has unsupported type %v", ErrInvalidModel, t.Name, t.DataType)
	}
	if int64(have) != n {
		return fmt.Errorf("%w: tensor %s has dims %v (%d values) but holds %d", ErrInvalidModel, t.Name, t.Dims, n, have)
	}
	return nil
}

func (g *Graph) encode() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessageField(b, graphNode, n.encode())
	}
	b = appendStringField(b, graphName, g.Name)
	for _, t := range g.Initializers {
		b = appendMessageField(b, graphInitializer, t.encode())
	}
	b = appendStringField(b, graphDocString, g.DocString)
	for _, v := range g.Inputs {
		b = appendMessageField(b, graphInput, v.encode())
	}
	for _, v := range g.Outputs {
		b = appendMessageField(b, graphOutput, v.encode())
	}
	return b
}

func (n *Node) encode() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, out := range n.Outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = appendStringField(b, nodeName, n.Name)
	b = appendStringField(b, nodeOpType, n.OpType)
	for _, a := range n.Attributes {
		b = appendMessageField(b, nodeAttribute, a.encode())
	}
	b = appendStringField(b, nodeDomain, n.Domain)
	return b
}

func (a *Attribute) encode() []byte {
	var b []byte
	b = appendStringField(b, attrName, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, attrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
	case AttrInt:
		b = protowire.AppendTag(b, attrI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.Int))
	case AttrString:
		b = protowire.AppendTag(b, attrS, protowire.BytesType)
		b = protowire.AppendString(b, a.String)
	case AttrFloats:
		// onnx.proto is proto2: repeated scalars are unpacked, one tag per value.
		for _, f := range a.Floats {
			b = protowire.AppendTag(b, attrFloats, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case AttrInts:
		for _, i := range a.Ints {
			b = protowire.AppendTag(b, attrInts, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	case AttrStrings:
		for _, s := range a.Strings {
			b = protowire.AppendTag(b, attrStrings, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	b = protowire.AppendTag(b, attrType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Type))
	return b
}

func (t *Tensor) encode() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, tensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	b = appendStringField(b, tensorName, t.Name)
	var raw []byte
	switch t.DataType {
	case Float32:
		raw = make([]byte, 0, 4*len(t.Float32s))
		for _, f := range t.Float32s {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
		}
	case Int64:
		raw = make([]byte, 0, 8*len(t.Int64s))
		for _, v := range t.Int64s {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	case Int32:
		raw = make([]byte, 0, 4*len(t.Int32s))
		for _, v := range t.Int32s {
			raw = binary.LittleEndian.AppendUint32(raw, uint32(v))
		}
	}
	b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

func (v *ValueInfo) encode() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var db []byte
		if d.Param != "" {
			db = appendStringField(db, dimParam, d.Param)
		} else {
			db = protowire.AppendTag(db, dimValue, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d.Value))
		}
		shape = appendMessageField(shape, shapeDim, db)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, tensorTypeElemType, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.ElemType))
	tt = appendMessageField(tt, tensorTypeShape, shape)
	var typ []byte
	typ = appendMessageField(typ, typeTensorType, tt)

	var b []byte
	b = appendStringField(b, valueInfoName, v.Name)
	b = appendMessageField(b, valueInfoType, typ)
	b = appendStringField(b, valueInfoDocString, v.DocString)
	return b
}

// appendStringField writes a string field, leaving it out when empty (proto default).
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendVarintField writes a varint field, leaving it out when zero (proto default).
func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendMessageField writes an embedded message, even when empty (presence matters for messages).
func appendMessageField(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
