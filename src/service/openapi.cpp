// The OpenAPI 3.0 document of the REST service. tests/test_service.cpp checks that every path and
// method listed here is served, and that every served route is listed.
#include <facerec/service/service.hpp>

namespace facerec {

std::string FaceService::openapi() {
  return R"JSON({
  "openapi": "3.0.3",
  "info": {"title": "facerec", "version": "1",
           "description": "Face recognition: a gallery of people, 1:N identification and 1:1 verification. Send images as the raw request body (image/jpeg, image/png, ...) or as multipart/form-data files. Every request except /v1/health and /openapi.json needs an X-API-Key header. Errors are JSON: {\"error\": {\"status\", \"code\", \"message\"}}."},
  "components": {
    "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}}}},
      "Person": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
        "metadata": {}, "templates": {"type": "integer"}}},
      "Candidate": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
        "similarity": {"type": "number"}}},
      "Box": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"},
        "width": {"type": "number"}, "height": {"type": "number"}}},
      "Liveness": {"type": "object", "description": "presentation-attack check of a face: score (higher: more likely live, the model's own scale), live = score >= threshold (calibrated on NUAA; see the README for what it is worth)",
        "properties": {"score": {"type": "number"}, "live": {"type": "boolean"}, "threshold": {"type": "number"}, "model": {"type": "string"}}}
    },
    "parameters": {
      "Liveness": {"name": "liveness", "in": "query", "schema": {"type": "boolean"}, "description": "add a liveness check of each face (default: the server's --liveness); 400 liveness_unavailable when the server has no liveness model"}
    },
    "requestBodies": {
      "Image": {"required": true, "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}}}}}}
    },
    "responses": {
      "Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"apiKey": []}],
  "paths": {
    "/v1/health": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
    "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3 document"}}}},
    "/v1/version": {"get": {"summary": "Versions, embedding model, threshold, index",
      "responses": {"200": {"description": "versions"}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/v1/people": {
      "get": {"summary": "List people by name, a page at a time",
        "parameters": [{"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}}],
        "responses": {"200": {"description": "{\"people\": [Person], \"total\", \"offset\", \"limit\"}"},
        "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}},
      "post": {"summary": "Create a person (no faces yet)",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"],
          "properties": {"name": {"type": "string", "maxLength": 512}, "metadata": {}}}}}},
        "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Person"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}}}},
    "/v1/people/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "get": {"summary": "One person", "responses": {"200": {"description": "Person"}, "404": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "Delete a person and their faces", "responses": {"200": {"description": "{\"deleted\": id}"},
        "404": {"$ref": "#/components/responses/Error"}}}},
    "/v1/people/{id}/faces": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "post": {"summary": "Add the largest face of an image to a person",
        "requestBody": {"$ref": "#/components/requestBodies/Image"},
        "responses": {"201": {"description": "{\"person\": Person, \"quality\": number}"},
          "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/v1/identify": {
      "post": {"summary": "Every face in the image with its best candidates; identity null when unknown",
        "parameters": [{"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3}},
                       {"$ref": "#/components/parameters/Liveness"}],
        "requestBody": {"$ref": "#/components/requestBodies/Image"},
        "responses": {"200": {"description": "{\"faces\": [{\"box\": Box, \"score\", \"identity\": Candidate|null, \"candidates\": [Candidate], \"liveness\": Liveness (when asked for)}], \"threshold\", \"operating_point\", \"model\"}"},
          "400": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"}}}},
    "/v1/verify": {
      "post": {"summary": "Same person? Image a against image b, or against an enrolled person",
        "parameters": [{"name": "person", "in": "query", "schema": {"type": "integer"}, "description": "compare image a with this person's faces instead of image b"},
                       {"$ref": "#/components/parameters/Liveness"}],
        "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object",
          "properties": {"a": {"type": "string", "format": "binary"}, "b": {"type": "string", "format": "binary"}, "person": {"type": "integer"}}}},
          "image/*": {"schema": {"type": "string", "format": "binary"}, "description": "image a, with ?person="}}},
        "responses": {"200": {"description": "{\"similarity\", \"same\", \"threshold\", \"operating_point\", \"model\", \"against\", \"liveness\": {\"a\": Liveness, \"b\": Liveness} (when asked for)}"},
          "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"}}}}
  }
})JSON";
}

}  // namespace facerec
