#!/usr/bin/env bash
# The OpenStack Nova scheduler filter (integrations/openstack/lisec_filter.py)
# inside Debian's python3-nova: the filter is loaded by name through Nova's
# own HostFilterHandler (as [filter_scheduler] available_filters does), its
# options are read by oslo.config from a nova.conf, and it judges Nova's real
# HostState (nova.tests' FakeHostState, a HostState subclass) and RequestSpec
# objects against a real lisecd holding the Helsinki/London example, over
# mutual TLS with the mano certificate. Checked: the hosts lisec allows pass
# and the others are filtered out with lisecd's requirement in the log; an
# unknown host, an unknown VM, a role lisecd refuses, a server certificate of
# another CA, and malformed answers (from a stand-in server) refuse the host;
# one request asks lisecd once per host (counted in lisecd's /metrics); an
# instance without lisec:vm passes unless require_vm_id is on; a conflicting
# or multi-instance lisec:vm is refused; with lisecd stopped every host is
# filtered out, asking once per request; [lisec] timeout bounds a whole
# question, an answer trickled a byte at a time too. The checks with lisecd
# up run twice: plain, and eventlet-patched as nova-scheduler runs (green
# sockets and TLS). Release build only: what it adds
# is the Python filter inside Nova, the same code in both builds.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
release_only "model_api asks POST /v1/decisions/migration the same way (roles, unknown VM or hypervisor, malformed bodies) and api_integration keeps a connection alive for 20 requests; the Nova filter is Python, the same in both builds"
. "$src/tests/integration/lib/model.sh"
. "$src/tests/integration/lib/pki.sh"
# Debian's Nova is built for Debian's Python, whichever python3 is first in PATH.
py=/usr/bin/python3
$py -c 'import nova.scheduler.filters, nova.tests.unit.scheduler.fakes' 2>/dev/null ||
  fail "Debian's python3-nova is not installed (scripts/bootstrap installs it)"

pki=$work/pki
make_pki "$pki"
make_pki_openssl "$work/rogue"
lisec audit li-keygen "$work/li.key" "$work/li.pub" >/dev/null 2>&1 || fail "li-keygen"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" "[model]" "allow_declared_trust = true"
split_topology "$src/examples/helsinki-london.json" "$work/ents"
put_topology "$work/ents"

# nova.conf as docs/openstack.md gives it.
cat >"$work/nova.conf" <<CONF
[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
available_filters = lisec_filter.LisecFilter
enabled_filters = ComputeFilter,LisecFilter

[lisec]
url = $LISECD_URL
cert_file = $pki/mano.crt
key_file = $pki/mano.key
ca_file = $pki/ca.crt
timeout = 5
CONF

cat >"$work/drive.py" <<'PY'
import sys
if sys.argv[2].endswith('-green'):
    # As nova-scheduler runs it: eventlet's green sockets and TLS.
    import nova.monkey_patch  # noqa: F401
import json, logging, socket, ssl, threading, time, urllib.request, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oslo_config import cfg
from nova import objects
from nova.scheduler import filters
from nova.tests.unit.scheduler import fakes

objects.register_all()
conf_file, phase, work, pki = sys.argv[1:5]
phase = phase.replace('-green', '')

class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []
    def emit(self, record):
        self.lines.append(record.getMessage())
log = Capture()

handler = filters.HostFilterHandler()
# As Nova's HostManager does with available_filters / enabled_filters.
classes = handler.get_matching_classes(['lisec_filter.LisecFilter'])
cfg.CONF([], project='nova', default_config_files=[conf_file])
assert cfg.CONF.filter_scheduler.available_filters[-1] == 'lisec_filter.LisecFilter'
logging.getLogger('lisec_filter').addHandler(log)
logging.getLogger('lisec_filter').setLevel(logging.DEBUG)

HOSTS = [('hel-1', 'hv-hel-1'), ('hel-2', 'hv-hel-2'), ('lon-1', 'hv-lon-1'), ('edge-7', 'hv-edge-7')]

def hosts():
    return [fakes.FakeHostState(h, n, {}) for h, n in HOSTS]

def spec(hint=None, extra=None, n=1):
    kw = dict(instance_uuid=str(uuid.uuid4()), flavor=objects.Flavor(extra_specs=extra or {}), num_instances=n,
              image=objects.ImageMeta(properties=objects.ImageMetaProps()),
              scheduler_hints={'lisec:vm': [hint]} if hint else {})
    return objects.RequestSpec(**kw)

def run(filt, spec_obj, hs=None):
    del log.lines[:]
    kept = handler.get_filtered_objects([filt], hs or hosts(), spec_obj)
    return [h.host for h in kept]

def refused_line(host):
    lines = [l for l in log.lines if 'refused' in l and (' %s ' % host) in l]
    assert lines, (host, log.lines)
    return lines[0]

def asked():
    """How many migration decisions lisecd has been asked, from its /metrics."""
    ctx = ssl.create_default_context(cafile=pki + '/ca.crt')
    ctx.load_cert_chain(pki + '/operator.crt', pki + '/operator.key')
    with urllib.request.urlopen(cfg.CONF.lisec.url + '/metrics', context=ctx, timeout=10) as r:
        text = r.read().decode()
    return sum(float(l.rsplit(' ', 1)[1]) for l in text.splitlines()
               if l.startswith('lisec_http_requests_total{') and 'route="/v1/decisions/migration"' in l)

def check(name, cond, detail):
    if not cond:
        print('FAIL: %s: %s' % (name, detail), file=sys.stderr)
        sys.exit(1)

if phase == 'up':
    filt = classes[0]()
    # The monitored VM of LI li-fi-1 (FI): Helsinki passes (hel-2 is where
    # it runs: MOVE1 only), London fails R11, the unknown host fails closed.
    before = asked()
    s = spec(hint='vm-target')
    kept = run(filt, s)
    check('hint', kept == ['hel-1', 'hel-2'], (kept, log.lines))
    check('R11 logged', 'TR103308-6.2-R11' in refused_line('lon-1'), log.lines)
    check('unknown host', 'no hypervisor or host' in refused_line('edge-7'), log.lines)
    check('no LI detail', not any('li-fi-1' in l for l in log.lines), log.lines)
    n = asked() - before
    check('one decision per host', n == 4, n)
    # The same request filtered again (Nova does for each instance and for
    # alternates): answered from the cache, lisecd is not asked.
    kept = run(filt, s)
    check('cache', kept == ['hel-1', 'hel-2'] and asked() - before == 4,
          (kept, asked() - before))
    # A new request asks again.
    kept = run(filt, spec(hint='vm-target'))
    check('new request', kept == ['hel-1', 'hel-2'] and asked() - before == 8,
          (kept, asked() - before))
    print('ok: scheduler hint lisec:vm: Helsinki passes, London is filtered out with '
          'TR103308-6.2-R11 logged, an unknown host fails closed; one decision per host per request')

    # Flavor extra spec; the LI VM may not go to a lower protection level.
    kept = run(filt, spec(extra={'lisec:vm': 'vm-li'}))
    check('flavor', kept == ['hel-1'], (kept, log.lines))
    check('O.1.3 logged', 'TR103308-7-O.1.3' in refused_line('hel-2'), log.lines)
    kept = run(filt, spec(hint='vm-li', extra={'lisec:vm': 'vm-li'}))
    check('hint = flavor', kept == ['hel-1'], (kept, log.lines))
    print('ok: flavor extra spec lisec:vm: the LI VM keeps hel-1 only, hel-2 refused with TR103308-7-O.1.3')

    # Bad names: an unknown VM, a hint and a flavor that disagree, one VM id
    # for two instances: every host refused.
    for name, s, why in [
            ('unknown VM', spec(hint='vm-nope'), 'unknown VM'),
            ('conflict', spec(hint='vm-li', extra={'lisec:vm': 'vm-target'}), 'name different VMs'),
            ('empty flavor id', spec(extra={'lisec:vm': ''}), 'is empty'),
            ('two instances', spec(hint='vm-target', n=2), 'names one VM')]:
        kept = run(filt, s)
        check(name, kept == [], (kept, log.lines))
        check(name + ' logged', why in refused_line('hel-1'), log.lines)
    print('ok: an unknown VM, conflicting hint and flavor, an empty id, one VM id for two instances: every host refused')

    # No lisec:vm: not lisec's to judge (any host, even one lisec does not
    # know, and lisecd is not asked) unless require_vm_id is on.
    before = asked()
    kept = run(filt, spec())
    check('plain', kept == [h for h, _ in HOSTS] and asked() == before, (kept, asked() - before))
    cfg.CONF.set_override('require_vm_id', True, group='lisec')
    kept = run(filt, spec())
    check('require_vm_id', kept == [] and 'require_vm_id' in refused_line('hel-1'), (kept, log.lines))
    cfg.CONF.clear_override('require_vm_id', group='lisec')
    print('ok: an instance without lisec:vm passes without asking lisecd; with require_vm_id every host is refused')

    # target = hypervisor: HostState.nodename is the lisec hypervisor id.
    cfg.CONF.set_override('target', 'hypervisor', group='lisec')
    kept = run(classes[0](), spec(hint='vm-target'))
    check('target hypervisor', kept == ['hel-1', 'hel-2'], (kept, log.lines))
    check('R11 by hypervisor', 'TR103308-6.2-R11' in refused_line('hv-lon-1'), log.lines)
    cfg.CONF.clear_override('target', group='lisec')
    print('ok: [lisec] target = hypervisor asks about HostState.nodename')

    # A role lisecd does not admit, a lisecd certificate of another CA: refused.
    cfg.CONF.set_override('cert_file', pki + '/tenant-example.crt', group='lisec')
    cfg.CONF.set_override('key_file', pki + '/tenant-example.key', group='lisec')
    kept = run(classes[0](), spec(hint='vm-target'))
    check('tenant role', kept == [] and 'may not POST' in refused_line('hel-1'), (kept, log.lines))
    cfg.CONF.clear_override('cert_file', group='lisec')
    cfg.CONF.clear_override('key_file', group='lisec')
    cfg.CONF.set_override('ca_file', work + '/rogue/ca.crt', group='lisec')
    kept = run(classes[0](), spec(hint='vm-target'))
    check('rogue CA', kept == [] and 'CERTIFICATE_VERIFY_FAILED' in refused_line('hel-1'), (kept, log.lines))
    cfg.CONF.clear_override('ca_file', group='lisec')
    cfg.CONF.set_override('url', None, group='lisec')
    kept = run(classes[0](), spec(hint='vm-target'))
    check('no url', kept == [] and 'url not set' in refused_line('hel-1'), (kept, log.lines))
    cfg.CONF.clear_override('url', group='lisec')
    print('ok: a role lisecd refuses, a server certificate of another CA, no [lisec] url: every host refused')

    # Malformed answers, from a stand-in server with lisecd's certificate.
    answers = {
        'hel-1': (200, b'not json'),
        'hel-2': (200, b'{"allow": "yes", "violations": []}'),
        'lon-1': (200, b'{"allow": false, "violations": [{"sentence": "no requirement"}]}'),
        'edge-7': (500, b'{"oops": 1}'),
        'big-1': (200, b'{"allow": true, "pad": "' + b'x' * 4096 + b'"}'),
        'deny-1': (200, b'{"allow": false, "violations": []}'),
        'ok-1': (200, b'{"allow": true, "violations": []}'),
    }
    class Stub(BaseHTTPRequestHandler):
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            if req['host'] == 'slow-1':
                # An allow, status line and all, a byte every 0.4 s: each
                # read waits less than [lisec] timeout, the whole far more.
                raw = b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"allow":true}'
                try:
                    for i in range(len(raw)):
                        self.wfile.write(raw[i:i + 1])
                        time.sleep(0.4)
                except OSError:
                    pass
                self.close_connection = True
                return
            code, body = answers[req['host']]
            self.send_response(code)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Stub)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/server.crt', pki + '/server.key')
    ctx.load_verify_locations(pki + '/ca.crt')
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg.CONF.set_override('url', 'https://localhost:%d' % srv.server_address[1], group='lisec')
    cfg.CONF.set_override('max_answer_bytes', 1024, group='lisec')
    hs = [fakes.FakeHostState(h, 'n-' + h, {}) for h in answers]
    kept = run(classes[0](), spec(hint='vm-target'), hs)
    check('malformed', kept == ['ok-1'], (kept, log.lines))
    for h, why in [('hel-1', 'not JSON'), ('hel-2', 'no boolean "allow"'), ('lon-1', 'malformed "violations"'),
                   ('edge-7', 'without an error message'), ('big-1', 'max_answer_bytes'),
                   ('deny-1', 'without naming a requirement')]:
        check('malformed ' + h, why in refused_line(h), log.lines)
    # [lisec] timeout bounds the whole question, not each read: the answer
    # trickled above (58 bytes, 23 s) is given up on and the host refused.
    cfg.CONF.set_override('timeout', 1.0, group='lisec')
    t0 = time.monotonic()
    kept = run(classes[0](), spec(hint='vm-target'), [fakes.FakeHostState('slow-1', 'n-slow-1', {})])
    took = time.monotonic() - t0
    check('trickle', kept == [] and 'cannot be asked' in refused_line('slow-1'), (kept, took, log.lines))
    check('trickle bounded', took < 3, took)
    # The same below TLS: a relay that passes what the server sends on a
    # byte every 0.4 s, so the handshake and each TLS record arrive in
    # pieces (a socket timeout bounds each piece under eventlet).
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(4)
    def pump(src, dst, pause):
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                for i in range(len(data)):
                    dst.sendall(data[i:i + 1])
                    time.sleep(pause)
        except OSError:
            pass
        finally:
            src.close()
            dst.close()
    def relay():
        while True:
            client, _ = lsock.accept()
            server = socket.create_connection(('127.0.0.1', srv.server_address[1]))
            threading.Thread(target=pump, args=(client, server, 0), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, 0.4), daemon=True).start()
    threading.Thread(target=relay, daemon=True).start()
    cfg.CONF.set_override('url', 'https://localhost:%d' % lsock.getsockname()[1], group='lisec')
    t0 = time.monotonic()
    kept = run(classes[0](), spec(hint='vm-target'), [fakes.FakeHostState('ok-1', 'n-ok-1', {})])
    took = time.monotonic() - t0
    check('relay', kept == [] and 'cannot be asked' in refused_line('ok-1'), (kept, took, log.lines))
    check('relay bounded', took < 3, took)
    cfg.CONF.clear_override('timeout', group='lisec')
    srv.shutdown()
    print('ok: an answer trickled a byte at a time, in TLS records or below them, is given up on after '
          '[lisec] timeout, the host refused')
    print('ok: answers that are not JSON, lack a boolean allow, carry malformed violations, are too long, '
          'deny without a requirement, or a 500 without a message: the host refused')
else:
    # lisecd stopped: every host refused, and lisecd tried once per request.
    filt = classes[0]()
    t0 = time.monotonic()
    kept = run(filt, spec(hint='vm-target'))
    check('down', kept == [], (kept, log.lines))
    tried = [l for l in log.lines if 'cannot be asked' in l and 'refused for VM' not in l]
    check('one try', len(tried) == 1, log.lines)
    for h, _ in HOSTS:
        check('down ' + h, 'cannot be asked' in refused_line(h), log.lines)
    check('fast', time.monotonic() - t0 < 5, time.monotonic() - t0)
    kept = run(filt, spec())
    check('plain while down', len(kept) == len(HOSTS), kept)
    print('ok: lisecd stopped: every host filtered out (one connection attempt for the request); '
          'an instance without lisec:vm still passes')
PY

export PYTHONPATH=$src/integrations/openstack
$py "$work/drive.py" "$work/nova.conf" up "$work" "$pki" || fail "the filter with lisecd up"
$py "$work/drive.py" "$work/nova.conf" up-green "$work" "$pki" 2>"$work/green.err" ||
  fail "the filter with lisecd up, eventlet-patched as in nova-scheduler: $(cat "$work/green.err")"
stop_lisecd
# In a sanitizer build, what lisecd reported at exit counts.
! grep -q 'Sanitizer' "$work/lisecd.log" || fail "lisecd: $(grep -A20 Sanitizer "$work/lisecd.log")"
$py "$work/drive.py" "$work/nova.conf" down "$work" "$pki" || fail "the filter with lisecd stopped"
