package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

// handleOpenAPI serves the OpenAPI 3.1 document, generated from the route
// table and the wire types the handlers decode and encode.
func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.openapiOnce.Do(func() { s.openapi, _ = json.MarshalIndent(s.OpenAPI(), "", "  ") })
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.openapi)
	})
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the document as a tree of maps.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]any{}
	for _, rt := range s.routes() {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt.method, rt.path),
			"tags":        []string{planeTag(rt.plane)},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if rt.method == "POST" && rt.status == 201 {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "description": "replays the first answer for 24 h when the same request is sent again", "schema": map[string]any{"type": "string", "maxLength": 255}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.req != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(rt.req)}}}
		}
		resp := map[string]any{"description": http.StatusText(rt.status)}
		if rt.resp != nil {
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(rt.resp)}}
		}
		problem := map[string]any{"description": "problem", "content": map[string]any{"application/problem+json": map[string]any{"schema": g.schema(typeOf[client.Problem]())}}}
		responses := map[string]any{strconv.Itoa(rt.status): resp, "default": problem}
		op["responses"] = responses
		if rt.plane == AdminPlane {
			op["security"] = []any{map[string]any{"rootKey": []string{}}}
			op["description"] = "Requires a root key with the scope " + rt.scope + "."
		}
		if rt.method == "" { // any method
			for _, m := range []string{"get", "post", "put", "patch", "delete", "head", "options"} {
				c := map[string]any{}
				for k, v := range op {
					c[k] = v
				}
				c["operationId"] = operationID(m, rt.path)
				item[m] = c
			}
			continue
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "TypeAuth",
			"version":     "1",
			"description": "Data plane (tag data, default port 8080) for gateways; management plane (tag management, default port 8081) with root keys.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         g.defs,
			"securitySchemes": map[string]any{"rootKey": map[string]any{"type": "http", "scheme": "bearer", "description": "a root key"}},
		},
	}
}

func planeTag(p Plane) string {
	switch p {
	case DataPlane:
		return "data"
	case AdminPlane:
		return "management"
	}
	return "both"
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(path, "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer(".", "", "_", "", "-", "").Replace(part)
		if part == "" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	if len(path) > 1 && strings.HasSuffix(path, "/") {
		b.WriteString("Subpath") // /v1/authorize/ serves any path below it
	}
	return b.String()
}

type schemaGen struct{ defs map[string]any }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schema returns the JSON Schema of t; named structs go to components.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value (an object for meta)"}
	case t.Kind() == reflect.Pointer:
		return g.schema(t.Elem())
	case t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Optional["):
		inner := g.schema(t.Field(2).Type) // Value
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}, "description": "absent: unchanged; null: cleared"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := defName(t)
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, ok := g.defs[name]; ok {
			return ref
		}
		g.defs[name] = map[string]any{} // placeholder against recursion
		props := map[string]any{}
		var required []string
		g.fields(t, props, &required)
		def := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			def["required"] = required
		}
		g.defs[name] = def
		return ref
	}
	return map[string]any{}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			g.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		sc := g.schema(f.Type)
		if f.Type.Kind() == reflect.Pointer || f.Type == rawType {
			sc = map[string]any{"anyOf": []any{sc, map[string]any{"type": "null"}}}
		}
		props[name] = sc
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// defName turns a Go type name (List[…client.Key]) into a schema name (ListKey).
func defName(t reflect.Type) string {
	n := t.Name()
	if i := strings.IndexByte(n, '['); i >= 0 {
		inner := n[i+1 : len(n)-1]
		if j := strings.LastIndexByte(inner, '.'); j >= 0 {
			inner = inner[j+1:]
		}
		n = n[:i] + inner
	}
	return n
}
