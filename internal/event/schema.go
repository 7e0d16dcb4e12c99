package event

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Kind names one of the two events.
type Kind string

// The two event kinds; they name the schema and the Kafka topic.
const (
	KindAnomaly Kind = "anomaly"
	KindCause   Kind = "cause"
)

// ErrUnknownKind is returned for a Kind without a schema.
var ErrUnknownKind = errors.New("unknown event kind")

//go:embed schema/anomaly.schema.json schema/cause.schema.json
var schemaFS embed.FS

// SchemaJSON returns the JSON Schema (draft 2020-12) of an event kind.
func SchemaJSON(k Kind) ([]byte, error) {
	switch k {
	case KindAnomaly, KindCause:
		return schemaFS.ReadFile("schema/" + string(k) + ".schema.json")
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKind, k)
}

var compiled = sync.OnceValues(func() (map[Kind]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	out := map[Kind]*jsonschema.Schema{}
	for _, k := range []Kind{KindAnomaly, KindCause} {
		raw, err := SchemaJSON(k)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse %s schema: %w", k, err)
		}
		url := "mem://anteater/" + string(k) + ".schema.json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("add %s schema: %w", k, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile %s schema: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
})

// Validate checks one JSON-encoded event against its kind's schema.
func Validate(k Kind, doc []byte) error {
	schemas, err := compiled()
	if err != nil {
		return err
	}
	s, ok := schemas[k]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKind, k)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%s event is not JSON: %w", k, err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s event does not match its schema: %w", k, err)
	}
	return nil
}
