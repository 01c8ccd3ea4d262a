/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/free-port.h"
#include "bus-cluster.h"
#include "net/key.h"

#ifndef BUS_HOST_PATH
#error "BUS_HOST_PATH must name the raftd-bus-host binary"
#endif

static void die(const char *what) {
        fprintf(stderr, "bus-cluster: %s: %s\n", what, strerror(errno));
        abort();
}

static int free_port(void) {
        int port = free_tcp_port();

        if (port < 0)
                abort(); /* no free port below the ephemeral range */
        return port;
}

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Read one line from fd within deadline_ms; false on timeout or EOF. */
bool cluster_read_line(int fd, char *buf, size_t size, int deadline_ms) {
        long long end = now_ms() + deadline_ms;
        size_t len = 0;

        while (len + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = end - now_ms();
                ssize_t k;

                if (left <= 0 || poll(&p, 1, (int) left) <= 0)
                        return false;
                k = read(fd, buf + len, 1);
                if (k <= 0)
                        return false;
                if (buf[len] == '\n') {
                        buf[len] = 0;
                        return true;
                }
                len++;
        }
        return false;
}

/* A bus every local user may connect to (the access tests run clients as
 * nobody), in a directory they can reach. */
static void start_bus(struct bus_cluster *c, unsigned id) {
        struct bus_node *b = &c->node[id];
        char conf[160], sock[160], line[320];
        int out[2];
        pid_t pid;
        FILE *f;

        snprintf(sock, sizeof(sock), "%s/bus%u", c->dir, id);
        if (mkdir(sock, 0755) < 0)
                die("mkdir bus");
        snprintf(conf, sizeof(conf), "%s/bus%u.conf", c->dir, id);
        f = fopen(conf, "we");
        if (!f)
                die("bus config");
        if (c->policy)
                /* Like Debian's system.conf: nothing is allowed unless a
                 * policy file allows it. */
                fprintf(f,
                        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                        "<busconfig>\n"
                        "  <type>system</type>\n"
                        "  <listen>unix:dir=%s</listen>\n"
                        "  <auth>EXTERNAL</auth>\n"
                        "  <policy context=\"default\">\n"
                        "    <allow user=\"*\"/>\n"
                        "    <deny own=\"*\"/>\n"
                        "    <deny send_type=\"method_call\"/>\n"
                        "    <allow send_type=\"signal\"/>\n"
                        "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                        "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                        "    <allow receive_type=\"method_call\"/>\n"
                        "    <allow receive_type=\"method_return\"/>\n"
                        "    <allow receive_type=\"error\"/>\n"
                        "    <allow receive_type=\"signal\"/>\n"
                        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
                        "  </policy>\n"
                        "  <include>%s</include>\n"
                        "</busconfig>\n",
                        sock, c->policy);
        else
                fprintf(f,
                        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                        "<busconfig>\n"
                        "  <type>session</type>\n"
                        "  <listen>unix:dir=%s</listen>\n"
                        "  <auth>EXTERNAL</auth>\n"
                        "  <policy context=\"default\">\n"
                        "    <allow user=\"*\"/>\n"
                        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                        "    <allow eavesdrop=\"true\"/>\n"
                        "    <allow own=\"*\"/>\n"
                        "  </policy>\n"
                        "</busconfig>\n",
                        sock);
        fclose(f);

        if (pipe2(out, O_CLOEXEC) < 0)
                die("pipe");
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                char arg[192];

                snprintf(arg, sizeof(arg), "--config-file=%s", conf);
                dup2(out[1], STDOUT_FILENO);
                execlp("dbus-daemon", "dbus-daemon", arg, "--fork", "--print-address=1", "--print-pid=1", NULL);
                _exit(127);
        }
        close(out[1]);
        if (!cluster_read_line(out[0], b->address, sizeof(b->address), 10000) || !cluster_read_line(out[0], line, sizeof(line), 10000))
                die("dbus-daemon did not start");
        b->daemon = (pid_t) atoi(line);
        close(out[0]);
        (void) waitpid(pid, NULL, 0);
}

static void start_host(struct bus_cluster *c, unsigned id) {
        struct bus_node *b = &c->node[id];
        char *argv[40], args[40][320];
        unsigned k = 0;
        int in[2], out[2];

#define ARG(...)                                                                                                       \
        do {                                                                                                           \
                snprintf(args[k], sizeof(args[k]), __VA_ARGS__);                                                       \
                argv[k] = args[k];                                                                                     \
                k++;                                                                                                   \
        } while (0)
        ARG("%s", BUS_HOST_PATH);
        ARG("--bus=%s", b->address);
        ARG("--id=%u", id);
        ARG("--dir=%s/n%u", c->dir, id);
        ARG("--listen=127.0.0.1:%d", c->ports[id]);
        ARG("--key=%s", c->key);
        for (unsigned i = 1; i <= c->n; i++)
                ARG("--peer=%u=127.0.0.1:%d", i, c->ports[i]);
        for (unsigned i = 0; c->host_args[i]; i++)
                ARG("%s", c->host_args[i]);
        if (getenv("RAFTD_TEST_VERBOSE"))
                ARG("--verbose");
        argv[k] = NULL;
#undef ARG
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                die("pipe");
        b->host = fork();
        if (b->host < 0)
                die("fork");
        if (b->host == 0) {
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        b->host_in = in[1];
        b->host_out = out[0];
}

int cluster_start(struct bus_cluster *c, unsigned n) {
        char line[64];

        c->n = n;
        strcpy(c->dir, "/tmp/raftd-bus-XXXXXX");
        if (!mkdtemp(c->dir))
                die("mkdtemp");
        if (chmod(c->dir, 0755) < 0)
                die("chmod");
        snprintf(c->key, sizeof(c->key), "%s/cluster.key", c->dir);
        if (net_key_generate(c->key, NULL) < 0)
                die("key");
        signal(SIGPIPE, SIG_IGN);
        for (unsigned id = 1; id <= n; id++) {
                c->ports[id] = free_port();
                start_bus(c, id);
        }
        for (unsigned id = 1; id <= n; id++)
                start_host(c, id);
        for (unsigned id = 1; id <= n; id++)
                if (!cluster_read_line(c->node[id].host_out, line, sizeof(line), 20000) || strcmp(line, "ready") != 0) {
                        fprintf(stderr, "bus-cluster: node %u did not become ready\n", id);
                        return -1;
                }
        return 0;
}

void cluster_spawn_host(struct bus_cluster *c, unsigned id) {
        if (c->node[id].host > 0)
                cluster_kill_host(c, id);
        start_host(c, id);
}

int cluster_await_ready(struct bus_cluster *c, unsigned id) {
        char line[64];

        if (!cluster_read_line(c->node[id].host_out, line, sizeof(line), 20000) || strcmp(line, "ready") != 0)
                return -1;
        return 0;
}

int cluster_restart_host(struct bus_cluster *c, unsigned id) {
        cluster_spawn_host(c, id);
        return cluster_await_ready(c, id);
}

void cluster_kill_host(struct bus_cluster *c, unsigned id) {
        struct bus_node *b = &c->node[id];

        if (b->host <= 0)
                return;
        kill(b->host, SIGKILL);
        (void) waitpid(b->host, NULL, 0);
        b->host = 0;
        close(b->host_in);
        close(b->host_out);
}

int cluster_stop(struct bus_cluster *c) {
        char cmd[128];
        int failed = 0;

        if (c->n == 0)
                return 0;

        for (unsigned id = 1; id <= c->n; id++) {
                struct bus_node *b = &c->node[id];

                if (b->host > 0) {
                        /* EOF on stdin: a clean stop, so leaks and sanitizer reports show. */
                        int status = 0;

                        close(b->host_in);
                        (void) waitpid(b->host, &status, 0);
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                                fprintf(stderr, "bus-cluster: node %u ended with status 0x%x\n", id, status);
                                failed++;
                        }
                        close(b->host_out);
                        b->host = 0;
                }
                if (b->daemon > 0)
                        kill(b->daemon, SIGTERM);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bus-cluster: could not remove %s\n", c->dir);
        c->n = 0;
        return failed > 0 ? -1 : 0;
}

sd_bus *cluster_client(struct bus_cluster *c, unsigned id) {
        sd_bus *bus = NULL;

        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, c->node[id].address) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_negotiate_fds(bus, 1) < 0 || sd_bus_start(bus) < 0)
                die("client connection");
        return bus;
}

static bool is_leader(struct bus_cluster *c, unsigned id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        char *role = NULL;
        bool yes;

        if (c->node[id].host <= 0)
                return false;
        bus = cluster_client(c, id);
        yes = sd_bus_get_property_string(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Cluster", "Role", &e, &role) >=
                      0 &&
              strcmp(role, "leader") == 0;
        free(role);
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return yes;
}

unsigned cluster_leader(struct bus_cluster *c, int deadline_ms) {
        long long end = now_ms() + deadline_ms;

        do {
                for (unsigned id = 1; id <= c->n; id++)
                        if (is_leader(c, id))
                                return id;
                /* Polling a property: elections have no event a client can await. */
                usleep(50 * 1000);
        } while (now_ms() < end);
        return 0;
}

int run(char *out, size_t size, const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        size_t len = 0;
        FILE *p;
        int status;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
        p = popen(cmd, "r");
        if (!p)
                die("popen");
        if (out && size > 0) {
                len = fread(out, 1, size - 1, p);
                out[len] = 0;
                while (len > 0 && out[len - 1] == '\n')
                        out[--len] = 0;
        } else {
                char sink[256];

                while (fread(sink, 1, sizeof(sink), p) > 0)
                        ;
        }
        status = pclose(p);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
