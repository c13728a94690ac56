/* embp serve: load the models, serve HTTP until SIGTERM/SIGINT, then drain and exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/log.h"
#include "runtime/registry.h"
#include "server/server.h"

int embp_cli_serve(int argc, char **argv) {
    embp_config c;
    embp_cli_args a;
    int r = embp_cli_parse(argc, argv, EMBP_CMD_SERVE, "serve [flags]", &c, &a);
    if (r)
        return r == 1 ? 0 : r;
    embp_logger lg = embp_config_logger(&c);
    /* Blocked before any thread starts, so every thread inherits the mask and only sigwait
     * below sees the signals: no async-signal-safety concerns in handlers. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    embp_registry_model *models = NULL;
    int n = 0;
    embp_server *srv = NULL;
    embp_error err;
    char ui_dir[4096];
    if (embp_config_ui_dir(&c, a.exe_dir, ui_dir, sizeof ui_dir, &err) != EMBP_OK ||
        embp_config_load_models(&c, a.exe_dir, 1, &models, &n, &err) != EMBP_OK ||
        (c.ui_dir = ui_dir, embp_server_start(&c, models, n, &srv, &err)) != EMBP_OK) {
        embp_logger_log(&lg, EMBP_LOG_ERROR, NULL, "%s", err.msg);
        embp_registry_free(models, n);
        return 1;
    }
    for (int i = 0; i < n; i++)
        embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "model %s: %s, dim %d, max_seq_len %d, "
                        "pooling %s; requested %s; plan: %s%s", models[i].info.name,
                        models[i].info.path, models[i].info.dim, models[i].max_seq_len,
                        embp_pooling_str(models[i].info.pooling), models[i].info.requested,
                        models[i].info.plan_desc,
                        models[i].info.is_demo ? " (DEMO: vectors carry no meaning)" : "");
    embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "listening on %s:%d%s", c.host,
                    embp_server_port(srv), *c.api_key ? " (API key required)" : "");
    if (*c.ui_dir)
        embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "web pages from %s: %sthe API page at /docs",
                        c.ui_dir, c.ui ? "the playground at /, " : "");
    else
        embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "no web pages (/, /docs): no <bin>/ui or "
                        "<bin>/../share/embp/ui folder (EMB_PROVIDER_UI_DIR)");
    int sig = 0;
    sigwait(&sigs, &sig);
    embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "%s: no new connections; finishing requests in "
                    "flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    int left = embp_server_stop(srv, (int)c.drain_timeout_s * 1000);
    embp_registry_free(models, n);
    if (left)
        embp_logger_log(&lg, EMBP_LOG_WARN, NULL, "%d requests were still running after %ld s "
                        "(EMB_PROVIDER_DRAIN_TIMEOUT_S)", left, c.drain_timeout_s);
    embp_logger_log(&lg, EMBP_LOG_INFO, NULL, "stopped");
    return 0;
}
