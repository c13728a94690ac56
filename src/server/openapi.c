/* GET /openapi.json (openapi.h): each route's operation described here, the document assembled
 * from the route table at start-up. The descriptions say what the route files (routes.c, tei.c,
 * rerank.c, request.c) really accept and answer; tests/test_openapi.sh holds them to it with
 * schemathesis against a live server.
 *
 * The texts are JSON written with ' for " (a C string of \" on every key is unreadable, and a
 * JSON DOM built call by call hides the shape): squote_load swaps them back before jansson
 * parses them, so they hold no apostrophe. A value '$name' is a setting of the server the
 * document describes (fill_settings), so that the limits it states are the ones it enforces. */
#include "server/openapi.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "server/routes.h"

#ifndef EMBP_VERSION
#define EMBP_VERSION "unknown"
#endif

#define SCHEMA(name) "{'$ref': '#/components/schemas/" name "'}"
#define JSON_BODY(schema) "{'application/json': {'schema': " schema "}}"

/* ---------------------------------------------------------------- the document's frame */

/* clang-format off */
static const char frame[] = "{"
"'openapi': '3.1.0',"
"'info': {'title': 'embp', 'version': '',"
"  'description': 'embp serves embedding models (and rerankers) on a CPU: OpenAI routes "
"(POST /v1/embeddings, GET /v1/models), Hugging Face Text Embeddings Inference routes (POST "
"/embed, /embed_all, /similarity, /tokenize, /decode, /rerank), Infinity and Cohere style POST "
"/v1/rerank, and operations (GET /health, /info, /metrics, /openapi.json). Errors come in the "
"shape of the route family: OpenAI routes answer {\\u0022error\\u0022: {message, type, param, "
"code}}, TEI routes {\\u0022error\\u0022, \\u0022error_type\\u0022}. Every reply carries "
"X-Request-Id (the client one when it is 1 to 128 visible ASCII characters, else a new one). "
"When the server runs with --api-key (EMB_PROVIDER_API_KEY), every route but the open ones "
"needs Authorization: Bearer KEY; this document then declares the bearer scheme on those "
"routes. The document is generated from the route table the server routes by, with this "
"server limits.'},"
"'tags': ["
"  {'name': 'OpenAI', 'description': 'OpenAI embeddings API'},"
"  {'name': 'TEI', 'description': 'Hugging Face Text Embeddings Inference API'},"
"  {'name': 'Rerank', 'description': 'Cross-encoder reranking (TEI, Infinity, Cohere)'},"
"  {'name': 'Operations', 'description': 'Health, configuration, metrics, this document'}],"
"'components': {"
" 'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer', 'description': "
"   'The key the server was started with (--api-key, EMB_PROVIDER_API_KEY); none needed when "
"the server has none.'}},"
" 'headers': {"
"  'X-Request-Id': {'required': true, 'description': 'The request id: the client "
"X-Request-Id when it is 1 to 128 visible ASCII characters, else one made by the server (32 "
"hex digits). Logged with the request.', 'schema': {'type': 'string', 'minLength': 1}},"
"  'Retry-After': {'description': 'Seconds to wait before retrying (a full queue, a shutdown)',"
"   'schema': {'type': 'string'}},"
"  'Allow': {'required': true, 'description': 'The method the route takes', "
"   'schema': {'type': 'string'}},"
"  'WWW-Authenticate': {'required': true, 'schema': {'type': 'string'}}},"
" 'schemas': {}"
"}"
"}";

/* components/schemas, each a JSON Schema: texts of their own, as C99 promises string literals
 * of 4095 bytes only (-Wpedantic). */
static const struct {
    const char *name, *text;
} schemas[] = {
    {"OpenAIError", "{'type': 'object', 'required': ['error'], 'properties': {'error': {"
    "   'type': 'object', 'required': ['message', 'type', 'param', 'code'], 'properties': {"
    "    'message': {'type': 'string', 'description': 'What was wrong: the field, what was "
    "expected and what was found'},"
    "    'type': {'type': 'string', 'enum': ['invalid_request_error', 'server_error']},"
    "    'param': {'type': ['string', 'null'], 'description': 'The request field at fault'},"
    "    'code': {'type': ['string', 'null'], 'examples': ['model_not_found', "
    "'context_length_exceeded', 'invalid_api_key', 'queue_full']}}}}}"},
    {"TEIError", "{'type': 'object', 'required': ['error', 'error_type'], 'properties': {"
    "   'error': {'type': 'string'},"
    "   'error_type': {'type': 'string', 'enum': ['validation', 'empty', 'tokenizer', "
    "'overloaded', 'backend', 'unhealthy']}}}"},
    {"Model", "{'type': ['string', 'null'], 'description': 'A served model id or alias (GET "
    "/v1/models lists them); missing or null: the first served model of the kind the route "
    "needs'}"},
    {"Text", "{'type': 'string', 'minLength': 1, 'description': 'UTF-8 text without NUL "
    "characters'}"},
    {"Texts", "{'type': 'array', 'minItems': 1, 'maxItems': '$max_batch_size', 'items': "
         SCHEMA("Text") "}"},
    {"TokenIds", "{'type': 'array', 'minItems': 1, 'items': {'type': 'integer', 'minimum': 0, "
    "   'maximum': 2147483647}, 'description': 'Token ids of the model vocabulary, special tokens "
    "included (used as given)'}"},
    {"Input", "{'description': 'A text, texts, one input of token ids or several', 'anyOf': ["
         SCHEMA("Text") ", " SCHEMA("Texts") ", " SCHEMA("TokenIds") ","
    "   {'type': 'array', 'minItems': 1, 'maxItems': '$max_batch_size', 'items': "
         SCHEMA("TokenIds") "}]}"},
    {"Encoding", "{'type': 'string', 'enum': ['float', 'base64', 'int8', 'uint8', 'binary', "
    "'ubinary'], 'description': 'float: numbers; base64: the little-endian float32 bytes; "
    "int8, uint8, binary, ubinary: sentence-transformers quantize_embeddings, arrays of "
    "integers'}"},
    {"Vector", "{'description': 'One embedding in its encoding', 'anyOf': ["
    "   {'type': 'array', 'items': {'type': 'number'}}, {'type': 'string'}]}"},
    {"Usage", "{'type': 'object', 'required': ['prompt_tokens', 'total_tokens'], 'properties': {"
    "   'prompt_tokens': {'type': 'integer', 'minimum': 0},"
    "   'total_tokens': {'type': 'integer', 'minimum': 0}}}"},
    {"Truncate", "{'type': ['boolean', 'null'], 'description': 'Cut inputs longer than the model "
    "context (default: EMB_PROVIDER_TRUNCATE); false: such an input is an error'}"},
    {"TruncationDirection", "{'type': ['string', 'null'], 'enum': ['left', 'right', 'Left', "
    "'Right', null], 'description': 'Which end truncation cuts (default right: keep the start)'}"},
    {"PromptName", "{'type': ['string', 'null'], 'description': 'A key of the model "
    "sentence-transformers prompts (GET /v1/models lists them), put before each text (token "
    "ids are decoded to their text first, as TEI does)'}"},
    {"ModelEntry", "{'type': 'object', 'required': ['id', 'object', 'created', 'owned_by', "
    "'embp'], 'properties': {"
    "   'id': {'type': 'string'}, 'object': {'const': 'model'}, 'created': {'type': 'integer'},"
    "   'owned_by': {'type': 'string'},"
    "   'embp': {'type': 'object', 'required': ['dim', 'max_seq_len', 'pooling', 'normalize', "
    "'precision', 'kind'], 'properties': {"
    "    'dim': {'type': 'integer'}, 'max_seq_len': {'type': 'integer'},"
    "    'pooling': {'type': 'string'}, 'normalize': {'type': 'boolean'},"
    "    'precision': {'type': 'object', 'description': 'The resolved precision plan'},"
    "    'prompts': {'type': 'object'}, 'kind': {'type': 'string', 'enum': ['embedding', "
    "'reranker']},"
    "    'demo': {'type': 'boolean'}, 'warning': {'type': 'string'},"
    "    'alias_of': {'type': 'string', 'description': 'An alias entry: the served id it names'}}}}}"},
    {"Rows", "{'type': 'array', 'items': {'type': 'array', 'items': {'type': 'number'}}}"},
    {"DecodeIds", "{'type': 'array', 'items': {'type': 'integer', 'minimum': 0, "
    "'maximum': 4294967295}, 'description': 'One text as token ids (ids beyond the vocabulary "
    "are dropped)'}"},
};

/* ---------------------------------------------------------------- OpenAI routes */

const char embp_openapi_embeddings[] = "{"
"'tags': ['OpenAI'], 'summary': 'Embed texts or token ids',"
"'description': 'OpenAI embeddings. With embedding_types the answer is Cohere embed v2 shape "
"(several encodings at once). /embeddings is the same route.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['input'], 'properties': {"
"   'input': " SCHEMA("Input") ","
"   'model': " SCHEMA("Model") ","
"   'encoding_format': {'anyOf': [" SCHEMA("Encoding") ", {'type': 'null'}], "
"    'description': 'Default float. Not with embedding_types'},"
"   'embedding_types': {'type': ['array', 'null'], 'minItems': 1, 'uniqueItems': true, "
"    'items': " SCHEMA("Encoding") ", 'description': 'Cohere: several encodings, answered "
"in Cohere shape'},"
"   'dimensions': {'type': ['integer', 'null'], 'minimum': 1, 'maximum': 2147483647, "
"    'description': 'Keep the first N values (matryoshka), at most the model dim; "
"re-normalized when the model normalizes'},"
"   'user': {'type': ['string', 'null'], 'description': 'Accepted and ignored'},"
"   'truncate': " SCHEMA("Truncate") ","
"   'prompt': {'type': ['string', 'null'], 'description': 'Text put before each input (token "
"ids are decoded to their text first); wins over prompt_name'},"
"   'prompt_name': " SCHEMA("PromptName") "},"
"  'example': {'input': ['hello world', 'a second text']}}") "},"
"'responses': {"
" '200': {'description': 'One embedding per input, in input order', 'content': "
   JSON_BODY("{'anyOf': [{'title': 'OpenAI list', 'type': 'object', "
"  'required': ['object', 'data', 'model', 'usage'], 'properties': {"
"   'object': {'const': 'list'}, 'model': {'type': 'string'}, 'usage': " SCHEMA("Usage") ","
"   'data': {'type': 'array', 'items': {'type': 'object', 'required': ['object', 'index', "
"'embedding'], 'properties': {'object': {'const': 'embedding'}, 'index': {'type': 'integer', "
"'minimum': 0}, 'embedding': " SCHEMA("Vector") "}}}}},"
"  {'title': 'Cohere embeddings_by_type', 'type': 'object', 'required': ['id', 'embeddings', "
"'texts', 'model', 'usage', 'meta', 'response_type'], 'properties': {"
"   'id': {'type': ['string', 'null']}, 'texts': {'type': 'array', 'items': {'type': "
"'string'}},"
"   'embeddings': {'type': 'object', 'additionalProperties': {'type': 'array', 'items': "
     SCHEMA("Vector") "}},"
"   'model': {'type': 'string'}, 'usage': " SCHEMA("Usage") ","
"   'meta': {'type': 'object'}, 'response_type': {'const': 'embeddings_by_type'}}}]}") "},"
" '400': 'Malformed JSON, a field of the wrong type or value, an empty input, token ids "
"outside the vocabulary, more inputs than EMB_PROVIDER_MAX_BATCH_SIZE, an input too long with "
"truncate false (code context_length_exceeded), a reranker named (model_kind_mismatch)',"
" '404': 'No served model or alias has that name (code model_not_found)',"
" '413': 'The body is larger than EMB_PROVIDER_MAX_REQUEST_BYTES, or preparing it took more "
"CPU than EMB_PROVIDER_MAX_PREPARE_MS (code request_too_expensive)',"
" '503': 'The queue is full (code queue_full, with Retry-After), the server is shutting "
"down, or no model is loaded yet'}"
"}";

const char embp_openapi_models[] = "{"
"'tags': ['OpenAI'], 'summary': 'List the served models',"
"'description': 'Each served model, then each alias as an entry of its own (its target embp "
"object plus alias_of). /models is the same route.',"
"'responses': {'200': {'description': 'The models', 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['object', 'data'], 'properties': {"
"   'object': {'const': 'list'}, 'data': {'type': 'array', 'items': " SCHEMA("ModelEntry")
"}}}") "}}"
"}";

/* ---------------------------------------------------------------- operations */

/* The web pages (server/static.c answers them from EMB_PROVIDER_UI_DIR, before the table). */
#define HTML_PAGE(what) "'200': {'description': '" what "', 'content': {'text/html': " \
    "{'schema': {'type': 'string'}}}, 'headers': {'ETag': {'schema': {'type': 'string'}}}}," \
    "'304': {'description': 'Unchanged since the ETag that If-None-Match names'},"
const char embp_openapi_page_playground[] = "{"
"'tags': ['Web pages'], 'summary': 'The playground (HTML)',"
"'description': 'Texts in; for each served model picked, the cosine-similarity heatmap of the texts "
"side by side with its plan, fidelity, tokens and latency. EMB_PROVIDER_UI=false turns it off (404).',"
"'responses': {" HTML_PAGE("The page") "'404': 'The playground is off (EMB_PROVIDER_UI=false), "
"or the web pages are not installed'}"
"}";
const char embp_openapi_page_docs[] = "{"
"'tags': ['Web pages'], 'summary': 'This API reference (HTML: Swagger UI)',"
"'description': 'Swagger UI over /openapi.json, served from disk.',"
"'responses': {" HTML_PAGE("The page") "'404': 'The web pages are not installed'}"
"}";

const char embp_openapi_health[] = "{"
"'tags': ['Operations'], 'summary': 'Liveness and readiness',"
"'description': '200 once the models are loaded.',"
"'responses': {"
" '200': {'description': 'Models loaded, serving', 'content': " JSON_BODY("{'type': 'object', "
"  'required': ['status'], 'properties': {'status': {'const': 'ok'}}}") "},"
" '503': {'description': 'Loading, or shutting down', 'content': " JSON_BODY("{'type': "
"  'object', 'required': ['status'], 'properties': {'status': {'enum': ['loading', "
"'stopping']}}}") "}}"
"}";

const char embp_openapi_info[] = "{"
"'tags': ['Operations'], 'summary': 'Server and model information',"
"'description': 'TEI Info object of the default model, with embp own detail (every model, "
"its precision plan, aliases, CPU, limits) under embp.',"
"'responses': {'200': {'description': 'The information', 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['model_sha', 'version', 'max_concurrent_requests', "
"'max_batch_requests', 'max_client_batch_size', 'auto_truncate', 'tokenization_workers', "
"'router', 'sha', 'docker_label', 'embp'], "
"  'properties': {"
"   'model_id': {'type': 'string'}, 'served_model_name': {'type': 'string'},"
"   'model_sha': {'type': 'null'}, 'model_dtype': {'type': 'string'},"
"   'model_type': {'type': 'object'}, 'version': {'type': 'string'},"
"   'max_concurrent_requests': {'type': 'integer'}, 'max_input_length': {'type': 'integer'},"
"   'max_batch_tokens': {'type': 'integer'}, 'max_batch_requests': {'type': 'null'},"
"   'max_client_batch_size': {'type': 'integer'}, 'auto_truncate': {'type': 'boolean'},"
"   'tokenization_workers': {'type': 'integer'}, 'router': {'type': 'string'},"
"   'sha': {'type': 'null'}, 'docker_label': {'type': 'null'},"
"   'embp': {'type': 'object', 'required': ['name', 'models', 'aliases', 'cpu', 'limits', "
"'auth'], 'properties': {'models': {'type': 'array'}, 'aliases': {'type': 'object', "
"'additionalProperties': {'type': 'string'}}, 'cpu': {'type': 'object'}, 'limits': {'type': "
"'object'}, 'auth': {'type': 'boolean'}}}}}") "}}"
"}";

const char embp_openapi_metrics[] = "{"
"'tags': ['Operations'], 'summary': 'Prometheus metrics',"
"'description': 'Prometheus text format 0.0.4: requests by route and status, latencies, "
"tokens, queue waits, batches.',"
"'responses': {'200': {'description': 'The metrics', 'content': {'text/plain': {'schema': "
"{'type': 'string'}}}}}"
"}";

const char embp_openapi_openapi[] = "{"
"'tags': ['Operations'], 'summary': 'This document',"
"'description': 'The OpenAPI 3.1 document of every route.',"
"'responses': {'200': {'description': 'The document', 'content': " JSON_BODY("{'type': "
"'object', 'required': ['openapi', 'info', 'paths']}") "}}"
"}";

/* ---------------------------------------------------------------- TEI routes */

/* TEI's inputs: a text, one input of ids, or a batch whose items are each a text or ids (TEI's
 * InputType per item, unlike OpenAI's one kind per batch); an empty batch is TEI's 400 empty. */
#define TEI_INPUTS                                                                              \
    "'inputs': {'description': 'A text, one input of token ids, or a batch whose items are "    \
    "each a text or token ids', 'anyOf': [" SCHEMA("Text") ", " SCHEMA("TokenIds") ", "         \
    "{'type': 'array', 'minItems': 1, 'maxItems': '$max_batch_size', 'items': {'anyOf': ["     \
    SCHEMA("Text") ", " SCHEMA("TokenIds") "]}}]},"
#define TEI_OPTIONS                                                                             \
    "'truncate': " SCHEMA("Truncate") ", 'truncation_direction': " SCHEMA("TruncationDirection") \
    ", 'prompt_name': " SCHEMA("PromptName") ", 'model': " SCHEMA("Model") ", 'prompt': "      \
    "{'type': ['string', 'null'], 'description': 'embp: a text put before each input (token " \
    "ids decoded to their text first); wins over prompt_name'}"
#define TEI_EMBED_ERRORS                                                                        \
    "'400': 'An empty batch (error_type empty)',"                                              \
    "'404': 'No served model has that name',"                                                  \
    "'413': 'The body is larger than EMB_PROVIDER_MAX_REQUEST_BYTES, or preparing it took "     \
    "more CPU than EMB_PROVIDER_MAX_PREPARE_MS',"                                              \
    "'422': 'Malformed JSON, a field of the wrong type or value, more inputs than "            \
    "EMB_PROVIDER_MAX_BATCH_SIZE, an input too long with truncate false, an unknown "          \
    "prompt_name (error_type validation)',"                                                    \
    "'424': 'The model produced a value that is not a finite number (error_type backend)',"   \
    "'429': 'The queue is full (error_type overloaded, with Retry-After)',"                    \
    "'503': 'No model loaded yet, or shutting down (error_type unhealthy)'"

const char embp_openapi_tei_embed[] = "{"
"'tags': ['TEI'], 'summary': 'Embed (TEI)',"
"'description': 'Text Embeddings Inference /embed: one pooled vector per input, [[...]] for "
"one input as for many. POST / is the same route.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['inputs'], 'properties': {" TEI_INPUTS TEI_OPTIONS ","
"   'normalize': {'type': ['boolean', 'null'], 'description': 'Default true; false only for "
"a model without a Normalize module'},"
"   'dimensions': {'type': ['integer', 'null'], 'minimum': 1, 'maximum': 1048576}},"
"  'example': {'inputs': ['hello world']}}") "},"
"'responses': {'200': {'description': 'One vector per input', 'content': "
  JSON_BODY(SCHEMA("Rows")) "}," TEI_EMBED_ERRORS "}"
"}";

const char embp_openapi_tei_embed_all[] = "{"
"'tags': ['TEI'], 'summary': 'Token embeddings (TEI)',"
"'description': 'The model last layer for every token of each input, before pooling.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['inputs'], 'properties': {" TEI_INPUTS TEI_OPTIONS "},"
"  'example': {'inputs': 'hello world'}}") "},"
"'responses': {'200': {'description': 'Per input, one vector per token', 'content': "
  JSON_BODY("{'type': 'array', 'items': " SCHEMA("Rows") "}") "}," TEI_EMBED_ERRORS "}"
"}";

const char embp_openapi_tei_similarity[] = "{"
"'tags': ['TEI'], 'summary': 'Cosine similarities (TEI)',"
"'description': 'The cosine of source_sentence with each of sentences (normalized "
"embeddings).',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['inputs'], 'properties': {"
"   'inputs': {'type': 'object', 'required': ['source_sentence', 'sentences'], "
"    'properties': {'source_sentence': " SCHEMA("Text") ", 'sentences': {'type': 'array', "
"    'minItems': 1, 'maxItems': '$max_sentences', 'items': " SCHEMA("Text") "}}},"
"   'parameters': {'type': ['object', 'null'], 'properties': {'truncate': " SCHEMA("Truncate")
", 'truncation_direction': " SCHEMA("TruncationDirection") ", 'prompt_name': "
  SCHEMA("PromptName") "}},"
"   'model': " SCHEMA("Model") "},"
"  'example': {'inputs': {'source_sentence': 'a cat', 'sentences': ['a dog', 'a car']}}}") "},"
"'responses': {'200': {'description': 'One cosine per sentence', 'content': "
  JSON_BODY("{'type': 'array', 'items': {'type': 'number'}}") "}," TEI_EMBED_ERRORS "}"
"}";

const char embp_openapi_tei_tokenize[] = "{"
"'tags': ['TEI'], 'summary': 'Tokenize (TEI)',"
"'description': 'Each input (a text, or a pair [text, text] through the pair template) as "
"tokens of the default model tokenizer (or of model).',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['inputs'], 'properties': {"
"   'inputs': {'anyOf': [{'type': 'string'}, {'type': 'array', 'minItems': 1, 'maxItems': "
"'$max_batch_size', 'items': {'anyOf': [{'type': 'string'}, {'type': 'array', 'minItems': 2, "
"'maxItems': 2, 'items': {'type': 'string'}}]}}]},"
"   'add_special_tokens': {'type': ['boolean', 'null'], 'description': 'Default true'},"
"   'prompt_name': " SCHEMA("PromptName") ","
"   'model': " SCHEMA("Model") "},"
"  'example': {'inputs': 'hello world'}}") "},"
"'responses': {"
" '200': {'description': 'Per input, its tokens', 'content': " JSON_BODY("{'type': 'array', "
"  'items': {'type': 'array', 'items': {'type': 'object', 'required': ['id', 'text', "
"'special', 'start', 'stop'], 'properties': {'id': {'type': 'integer', 'minimum': 0}, "
"'text': {'type': 'string'}, 'special': {'type': 'boolean'}, 'start': {'type': ['integer', "
"'null']}, 'stop': {'type': ['integer', 'null']}}}}}") "},"
" '400': 'An empty batch (error_type empty)',"
" '404': 'No served model has that name',"
" '422': 'Malformed JSON, a field of the wrong type, more inputs than "
"EMB_PROVIDER_MAX_BATCH_SIZE, an unknown prompt_name (error_type validation), or a text the tokenizer "
"refuses (error_type tokenizer)',"
" '503': 'No model loaded yet (error_type unhealthy)'}"
"}";

const char embp_openapi_tei_decode[] = "{"
"'tags': ['TEI'], 'summary': 'Decode token ids (TEI)',"
"'description': 'Token ids back to text with the default model tokenizer (or of model); ids "
"beyond the vocabulary are dropped.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['ids'], 'properties': {"
"   'ids': {'anyOf': [{'$ref': '#/components/schemas/DecodeIds'}, {'type': 'array', "
"'minItems': 1, 'maxItems': '$max_batch_size', 'items': "
"{'$ref': '#/components/schemas/DecodeIds'}}]},"
"   'skip_special_tokens': {'type': ['boolean', 'null'], 'description': 'Default true'},"
"   'model': " SCHEMA("Model") "},"
"  'example': {'ids': [101, 7592, 2088, 102]}}") "},"
"'responses': {"
" '200': {'description': 'One text per id list', 'content': " JSON_BODY("{'type': 'array', "
"  'items': {'type': 'string'}}") "},"
" '400': 'An empty batch (error_type empty)',"
" '404': 'No served model has that name',"
" '422': 'Malformed JSON, a field of the wrong type, an id that is not an integer in 0 to "
"4294967295, more lists than EMB_PROVIDER_MAX_BATCH_SIZE (error_type validation)',"
" '503': 'No model loaded yet (error_type unhealthy)'}"
"}";

/* ---------------------------------------------------------------- reranking */

#define RERANK_OPTIONS                                                                          \
    "'raw_scores': {'type': ['boolean', 'null'], 'description': 'The logit; default false: "    \
    "its sigmoid'}, 'truncate': " SCHEMA("Truncate") ", 'truncation_direction': {'type': "     \
    "['string', 'null'], 'pattern': '^([Ll][Ee][Ff][Tt]|[Rr][Ii][Gg][Hh][Tt])$', "             \
    "'description': 'left or right, any case'}, 'query': {'type': 'string'}, 'model': "       \
    SCHEMA("Model")
#define RERANK_ERRORS                                                                           \
    "'404': 'No served model has that name',"                                                  \
    "'413': 'The body is larger than EMB_PROVIDER_MAX_REQUEST_BYTES, or preparing it took "     \
    "more CPU than EMB_PROVIDER_MAX_PREPARE_MS'"

const char embp_openapi_rerank[] = "{"
"'tags': ['Rerank'], 'summary': 'Rerank texts (TEI)',"
"'description': 'Scores each (query, text) pair with a served reranker (a cross-encoder), "
"best first.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['query', 'texts'], 'properties': {" RERANK_OPTIONS ","
"   'texts': {'type': 'array', 'minItems': 1, 'maxItems': '$max_batch_size', 'items': "
"{'type': 'string'}},"
"   'return_text': {'type': ['boolean', 'null'], 'description': 'Echo each text'}},"
"  'example': {'query': 'what is a panda?', 'texts': ['a bear of China', 'a city']}}") "},"
"'responses': {"
" '200': {'description': 'Best score first', 'content': " JSON_BODY("{'type': 'array', "
"  'items': {'type': 'object', 'required': ['index', 'score'], 'properties': {"
"   'index': {'type': 'integer', 'minimum': 0}, 'score': {'type': 'number'}, "
"   'text': {'type': 'string'}}}}") "},"
" '400': 'An empty texts (error_type empty)',"
" '422': 'Malformed JSON, a field of the wrong type or value, more texts than "
"EMB_PROVIDER_MAX_BATCH_SIZE, a pair too long with truncate false, no served reranker or an "
"embedding model named (error_type validation)',"
" '429': 'The queue is full (error_type overloaded, with Retry-After)',"
" '503': 'Shutting down, or no model loaded yet (error_type unhealthy)'," RERANK_ERRORS "}"
"}";

const char embp_openapi_v1_rerank[] = "{"
"'tags': ['Rerank'], 'summary': 'Rerank documents (Infinity, Cohere)',"
"'description': 'Scores each (query, document) pair with a served reranker, best first, cut "
"to top_n.',"
"'requestBody': {'required': true, 'content': " JSON_BODY("{"
"  'type': 'object', 'required': ['query', 'documents'], 'properties': {" RERANK_OPTIONS ","
"   'documents': {'type': 'array', 'minItems': 1, 'maxItems': '$max_batch_size', 'items': "
"{'anyOf': [{'type': 'string'}, {'type': 'object', 'description': 'Ranked by its text, or "
"with rank_fields by those string fields as key: value lines', 'properties': {'text': "
"{'type': 'string'}}}]}},"
"   'rank_fields': {'type': ['array', 'null'], 'minItems': 1, 'uniqueItems': true, 'items': "
"{'type': 'string', 'minLength': 1}, 'description': 'Cohere: the document object fields "
"ranked'},"
"   'max_tokens_per_doc': {'type': ['integer', 'null'], 'minimum': 1, 'description': "
"'Cohere: each document cut to its first N tokens before pairing'},"
"   'top_n': {'type': ['integer', 'null'], 'minimum': 1},"
"   'return_documents': {'type': ['boolean', 'null'], 'description': 'Echo each document'}},"
"  'example': {'query': 'what is a panda?', 'documents': ['a bear of China', 'a city']}}") "},"
"'responses': {"
" '200': {'description': 'Best score first', 'content': " JSON_BODY("{'type': 'object', "
"  'required': ['object', 'results', 'model', 'usage', 'id', 'created'], 'properties': {"
"   'object': {'const': 'rerank'}, 'model': {'type': 'string'}, 'usage': " SCHEMA("Usage") ","
"   'id': {'type': 'string'}, 'created': {'type': 'integer'},"
"   'results': {'type': 'array', 'items': {'type': 'object', 'required': ['relevance_score', "
"'index'], 'properties': {'relevance_score': {'type': 'number'}, 'index': {'type': "
"'integer', 'minimum': 0}, 'document': {'type': ['string', 'object'], 'description': "
"'As sent'}}}}}}") "},"
" '400': 'Malformed JSON, a field of the wrong type or value, more documents than "
"EMB_PROVIDER_MAX_BATCH_SIZE, a pair too long with truncate false (code "
"context_length_exceeded), no served reranker or an embedding model named "
"(model_kind_mismatch)',"
" '503': 'The queue is full (code queue_full, with Retry-After), shutting down, or no model "
"loaded yet'," RERANK_ERRORS "}"
"}";
/* clang-format on */

/* ---------------------------------------------------------------- assembling */

/* Fills err with the out-of-memory failure; returns 0. */
static int oom(embp_error *err) {
    embp_fail(err, EMBP_ENOMEM, "openapi: out of memory");
    return 0;
}

/* text (JSON with ' for ") parsed. New reference, or NULL with err naming `what`. */
static json_t *squote_load(const char *text, const char *what, embp_error *err) {
    size_t n = strlen(text);
    char *s = embp_malloc(n + 1);
    if (!s) {
        oom(err);
        return NULL;
    }
    for (size_t i = 0; i <= n; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    embp_free(s);
    if (!v)
        embp_fail(err, json_error_code(&je) == json_error_out_of_memory ? EMBP_ENOMEM
                                                                          : EMBP_EFORMAT,
                  "openapi: the description of %s is not JSON: %s at column %d", what, je.text,
                  je.column);
    return v;
}

/* The setting a '$name' value stands for: 1 and *out, or 0 for an unknown name. */
static int setting_value(const char *name, const embp_config *cfg, json_int_t *out) {
    if (!strcmp(name, "$max_batch_size"))
        *out = cfg->max_batch_size;
    else if (!strcmp(name, "$max_sentences")) /* /similarity: the source is one of the batch */
        *out = cfg->max_batch_size - 1;
    else
        return 0;
    return 1;
}

/* Replaces each string value '$name' under v by that setting of cfg. 1, or 0 with err. */
static int fill_settings(json_t *v, const embp_config *cfg, embp_error *err) {
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!fill_settings(json_array_get(v, i), cfg, err))
                return 0;
        return 1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) { /* not an object: no iteration */
        const char *s = json_string_value(val);
        json_int_t n;
        if (!s || s[0] != '$') {
            if (!fill_settings(val, cfg, err))
                return 0;
        } else if (!setting_value(s, cfg, &n)) {
            embp_fail(err, EMBP_EFORMAT, "openapi: %s: unknown setting %s", key, s);
            return 0;
        } else if (json_object_set_new(v, key, json_integer(n)) != 0) {
            return oom(err);
        }
    }
    return 1;
}

/* A response of an error in the route family's shape. New reference. */
static json_t *error_response(const char *description, int tei) {
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/json", "schema", "$ref",
                     tei ? "#/components/schemas/TEIError" : "#/components/schemas/OpenAIError");
}

/* Sets responses[status] to an error response unless the description already has one. */
static int add_error(json_t *responses, const char *status, const char *description, int tei) {
    if (json_object_get(responses, status))
        return 1;
    return json_object_set_new(responses, status, error_response(description, tei)) == 0;
}

/* Adds header `name` (components/headers) to response resp. */
static int add_header_ref(json_t *resp, const char *name) {
    json_t *h = json_object_get(resp, "headers");
    if (!h && json_object_set_new(resp, "headers", h = json_object()) != 0)
        return 0;
    char ref[64];
    snprintf(ref, sizeof ref, "#/components/headers/%s", name);
    return json_object_set_new(h, name, json_pack("{s:s}", "$ref", ref)) == 0;
}

/* op's responses completed from its row: string responses expanded to the family's error body,
 * the errors every route can answer added, each response's headers. 1, or 0 (oom). */
static int complete_responses(json_t *op, const embp_route *row, const embp_config *cfg) {
    json_t *responses = json_object_get(op, "responses");
    if (!json_is_object(responses))
        return 0;
    const char *status;
    json_t *resp;
    void *tmp;
    json_object_foreach_safe(responses, tmp, status, resp) {
        if (json_is_string(resp) &&
            json_object_set_new(responses, status,
                                error_response(json_string_value(resp), row->tei)) != 0)
            return 0;
    }
    char too_big[160];
    snprintf(too_big, sizeof too_big, "The body is larger than EMB_PROVIDER_MAX_REQUEST_BYTES "
             "(%ld bytes)", cfg->max_request_bytes);
    int ok = add_error(responses, "405", "This route takes another method (Allow names it)",
                       row->tei) &&
             add_error(responses, "413", too_big, row->tei) &&
             add_error(responses, "500", "Out of memory, or the model failed (a value that is "
                       "not a finite number came out of it)", row->tei);
    if (ok && !strcmp(row->method, "POST"))
        ok = add_error(responses, "415", "The body is not sent as JSON: Content-Type must be "
                       "application/json (a charset parameter is fine) or application/*+json",
                       row->tei);
    if (ok && *cfg->api_key && !row->open)
        ok = add_error(responses, "401", "No API key, or a wrong one (Authorization: Bearer "
                       "KEY)", row->tei);
    json_object_foreach(responses, status, resp) {
        ok = ok && add_header_ref(resp, "X-Request-Id");
        if (!strcmp(status, "405"))
            ok = ok && add_header_ref(resp, "Allow");
        else if (!strcmp(status, "401"))
            ok = ok && add_header_ref(resp, "WWW-Authenticate");
        else if (!strcmp(status, "503") || !strcmp(status, "429"))
            ok = ok && add_header_ref(resp, "Retry-After");
    }
    return ok;
}

/* Row's operation: its description, an operationId from its method and path (unique: add_paths
 * refuses a path and method twice), its security and responses. New reference, or NULL with err. */
static json_t *operation(const embp_route *row, const embp_config *cfg, embp_error *err) {
    if (!row->doc) {
        embp_fail(err, EMBP_EFORMAT, "openapi: %s %s has no description in the route table",
                  row->method, row->url);
        return NULL;
    }
    json_t *op = squote_load(row->doc, row->url, err);
    if (!op)
        return NULL;
    if (!json_is_object(json_object_get(op, "responses"))) {
        json_decref(op);
        embp_fail(err, EMBP_EFORMAT, "openapi: %s %s: its description has no responses",
                  row->method, row->url);
        return NULL;
    }
    char id[96];
    int k = snprintf(id, sizeof id, "%s", row->method);
    for (int i = 0; i < k; i++)
        id[i] = (char)(id[i] | 0x20); /* ASCII letters: lower case */
    for (const char *p = row->url; *p && k < (int)sizeof id - 5; p++)
        id[k++] = *p == '/' || *p == '.' ? '_' : *p;
    id[k] = '\0';
    if (!strcmp(row->url, "/"))
        snprintf(id + k, sizeof id - (size_t)k, "root");
    int ok = json_object_set_new(op, "operationId", json_string(id)) == 0;
    if (ok && *cfg->api_key && row->open) /* the document's security does not apply here */
        ok = json_object_set_new(op, "security", json_array()) == 0;
    const char *text = json_string_value(json_object_get(op, "description"));
    if (ok && row->open && text) {
        size_t size = strlen(text) + 32;
        char *open = embp_malloc(size);
        if (open)
            snprintf(open, size, "%s No API key needed.", text);
        ok = open && json_object_set_new(op, "description", json_string(open)) == 0;
        embp_free(open);
    }
    if (!ok || !complete_responses(op, row, cfg)) {
        json_decref(op);
        embp_fail(err, EMBP_ENOMEM, "openapi: out of memory");
        return NULL;
    }
    return op;
}

/* The document's paths: every row of the route table under its path and method. 1, or 0 with
 * err. */
static int add_paths(json_t *doc, const embp_config *cfg, embp_error *err) {
    size_t n;
    const embp_route *rows = embp_route_table(&n);
    json_t *paths = json_object();
    if (!paths || json_object_set_new(doc, "paths", paths) != 0)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        char method[16];
        snprintf(method, sizeof method, "%s", rows[i].method);
        for (char *c = method; *c; c++)
            *c = (char)(*c | 0x20);
        json_t *item = json_object_get(paths, rows[i].url);
        if (!item && json_object_set_new(paths, rows[i].url, item = json_object()) != 0)
            return oom(err);
        if (json_object_get(item, method)) {
            embp_fail(err, EMBP_EFORMAT, "openapi: the route table holds %s %s twice",
                      rows[i].method, rows[i].url);
            return 0;
        }
        json_t *op = operation(&rows[i], cfg, err);
        if (!op)
            return 0;
        if (json_object_set_new(item, method, op) != 0)
            return oom(err);
    }
    return 1;
}

/* The frame with its components' schemas and the version. New reference, or NULL with err. */
static json_t *frame_with_schemas(embp_error *err) {
    json_t *doc = squote_load(frame, "the document frame", err);
    json_t *dst = json_object_get(json_object_get(doc, "components"), "schemas");
    int ok = doc != NULL;
    if (ok && json_object_set_new(json_object_get(doc, "info"), "version",
                                  json_string(EMBP_VERSION)) != 0)
        ok = oom(err);
    for (size_t i = 0; ok && i < sizeof schemas / sizeof schemas[0]; i++) {
        json_t *v = squote_load(schemas[i].text, schemas[i].name, err);
        if (!v || json_object_set_new(dst, schemas[i].name, v) != 0)
            ok = v ? oom(err) : 0;
    }
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Appends to obj's "description" the table's open routes (served without the API key). 1, or
 * 0 (oom). */
static int name_open_routes(json_t *obj) {
    size_t n;
    const embp_route *rows = embp_route_table(&n);
    const char *was = json_string_value(json_object_get(obj, "description"));
    embp_buf b = {0};
    embp_buf_puts(&b, was ? was : "");
    embp_buf_puts(&b, " Open routes (no key):");
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!rows[i].open)
            continue;
        embp_buf_puts(&b, k++ ? ", " : " ");
        embp_buf_puts(&b, rows[i].method);
        embp_buf_puts(&b, " ");
        embp_buf_puts(&b, rows[i].url);
    }
    embp_buf_puts(&b, ".");
    int ok = !b.oom && json_object_set_new(obj, "description", json_stringn(b.p, b.len)) == 0;
    embp_buf_free(&b);
    return ok;
}

char *embp_openapi_build(const embp_config *cfg, size_t *len, embp_error *err) {
    json_t *doc = frame_with_schemas(err);
    json_t *bearer = json_object_get(json_object_get(json_object_get(doc, "components"),
                                                     "securitySchemes"), "bearer");
    int ok = doc && add_paths(doc, cfg, err);
    if (ok && (!name_open_routes(json_object_get(doc, "info")) || !name_open_routes(bearer)))
        ok = oom(err);
    if (ok && *cfg->api_key &&
        json_object_set_new(doc, "security", json_pack("[{s:[]}]", "bearer")) != 0)
        ok = oom(err);
    ok = ok && fill_settings(doc, cfg, err);
    char *text = ok ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (ok && !text)
        oom(err);
    if (!text)
        return NULL;
    /* jansson's buffer (malloc) copied into ours (embp_malloc): the caller frees one kind */
    *len = strlen(text);
    char *out = embp_malloc(*len + 1);
    if (out)
        memcpy(out, text, *len + 1);
    else
        oom(err);
    free(text);
    return out;
}
