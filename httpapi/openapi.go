package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's description (OpenAPI 3.1), served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
