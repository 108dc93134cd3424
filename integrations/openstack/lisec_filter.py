# lisec's OpenStack Nova scheduler filter: before Nova places (or moves) an
# instance that names a VM of lisec's trust model (`lisec:vm`, as a scheduler
# hint or a flavor extra spec), it asks lisecd, over mutual TLS, whether that
# VM may run on each candidate host (POST /v1/decisions/migration, the same
# decision the libvirt hook and the Kubernetes extender use), keeps the hosts
# lisec allows and filters out the others with lisec's reason in the log.
# It fails closed: a host lisec does not know, an answer it cannot read, or
# a lisecd it cannot reach removes the host. The answers are cached per
# request (per RequestSpec), so one scheduling request asks once per host.
# Settings are the [lisec] group of nova.conf (docs/openstack.md).

import http.client
import io
import json
import select
import socket
import ssl
import time
import urllib.parse
import weakref

from oslo_config import cfg
from oslo_log import log as logging

from nova.scheduler import filters

LOG = logging.getLogger(__name__)

VM_KEY = 'lisec:vm'
# lisec's requirement "the VM is recorded on that hypervisor already": for
# a scheduler it is no objection (a rebuild, or a VM declared in lisec
# before Nova places it); the Kubernetes extender reads it the same way.
ALREADY_THERE = 'TR103308-6.2-MOVE1'

lisec_group = cfg.OptGroup(
    'lisec', title='lisec placement filter',
    help='How the LisecFilter scheduler filter reaches lisecd.')

lisec_opts = [
    cfg.URIOpt('url', schemes=['https'],
               help='lisecd base URL, e.g. https://lisecd.example.net:8443. '
                    'Without it every instance that names a lisec VM is '
                    'refused everywhere.'),
    cfg.StrOpt('cert_file',
               help='Client certificate (PEM) of the role mano.'),
    cfg.StrOpt('key_file', help='Key of cert_file (PEM).'),
    cfg.StrOpt('ca_file',
               help='CA (PEM) that signed lisecd\'s server certificate.'),
    cfg.FloatOpt('timeout', default=5.0, min=0.1, max=120.0,
                 help='Seconds for each question to lisecd, from the '
                      'connection to the last byte of its answer; past it '
                      'the host is refused.'),
    cfg.IntOpt('max_answer_bytes', default=1048576, min=1024,
               max=64 * 1048576,
               help='Largest answer read from lisecd; a longer one is '
                    'malformed and refuses the host.'),
    cfg.BoolOpt('require_vm_id', default=False,
                help='Refuse every host for an instance that names no lisec '
                     'VM (no lisec:vm hint or flavor extra spec). Off: such '
                     'an instance is not lisec\'s to judge and passes.'),
    cfg.StrOpt('target', default='host',
               choices=[('host', 'HostState.host, the compute service host, '
                                 'is a lisec host that runs one hypervisor'),
                        ('hypervisor', 'HostState.nodename, the hypervisor '
                                       'hostname, is a lisec hypervisor id')],
               help='Which name of a candidate host lisecd is asked about.'),
]

cfg.CONF.register_group(lisec_group)
cfg.CONF.register_opts(lisec_opts, group=lisec_group)


def list_opts():
    """The options, for oslo-config-generator."""
    return [(lisec_group, lisec_opts)]


class _Refusal(Exception):
    """A reason to refuse the host; when `down` is set, lisecd itself could
    not be asked, and the rest of the request is refused without trying
    again (a scheduler with 500 hosts would otherwise wait 500 timeouts)."""

    def __init__(self, reason, down=False):
        super().__init__(reason)
        self.reason = reason
        self.down = down


def _left(deadline):
    """Seconds left before the deadline (time.monotonic()); socket.timeout
    once there are none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout('no complete answer within [lisec] timeout')
    return left


def _step(call, sock, deadline):
    """call() on the non-blocking TLS socket, waiting (select, at most what
    is left of the deadline) each time TLS needs the network first. Every
    wait is bounded by the deadline, not by a timeout of its own: a socket
    timeout bounds each wait (each read, and under eventlet, which nova-
    scheduler runs on, each part of a TLS record) and resets with every
    byte, so an answer trickled a byte at a time would hold the scheduler
    for as long as lisecd, or whoever delays its packets, likes."""
    while True:
        try:
            return call()
        except ssl.SSLWantReadError:
            ready = select.select([sock], [], [], _left(deadline))[0]
        except ssl.SSLWantWriteError:
            ready = select.select([], [sock], [], _left(deadline))[1]
        if not ready:
            raise socket.timeout('no complete answer within [lisec] timeout')


class _Bounded:
    """The TLS socket of a connection to lisecd as http.client uses it
    (sendall, makefile, close), its every read and write ending by the
    question's deadline (_step). As a socket's makefile does, an answer
    being read keeps the socket open after http.client closes the
    connection (it does for an answer that ends it), until the answer is
    closed too."""

    def __init__(self, sock, conn):
        self._sock = sock
        self._conn = conn
        self._readers = 0
        self._closed = False

    def sendall(self, data):
        view = memoryview(data)
        while view:
            sent = _step(lambda: self._sock.send(view), self._sock,
                         self._conn.deadline)
            view = view[sent:]

    def recv_into(self, buf):
        return _step(lambda: self._sock.recv_into(buf), self._sock,
                     self._conn.deadline)

    def makefile(self, mode='rb', buffering=-1):
        if mode != 'rb':
            raise ValueError('only binary reads from lisecd')
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def reader_closed(self):
        self._readers -= 1
        if self._closed and not self._readers:
            self._sock.close()

    def close(self):
        self._closed = True
        if not self._readers:
            self._sock.close()


class _Reader(io.RawIOBase):
    """http.client's view of the answer: reads through _Bounded."""

    def __init__(self, bounded):
        super().__init__()
        self._bounded = bounded

    def readable(self):
        return True

    def readinto(self, buf):
        return self._bounded.recv_into(buf)

    def close(self):
        if not self.closed:
            self._bounded.reader_closed()
        super().close()


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection to lisecd whose question, from the TCP connect to
    the answer's last byte, ends at `deadline` (set before each question)."""

    deadline = 0.0

    def __init__(self, host, port, context):
        super().__init__(host, port, context=context)
        self._tls_context = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port),
                                        _left(self.deadline))
        try:
            # as http.client's own connect: no Nagle delay on the question
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            tls = self._tls_context.wrap_socket(
                sock, server_hostname=self.host,
                do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        try:
            tls.setblocking(False)
            _step(tls.do_handshake, tls, self.deadline)
        except BaseException:
            tls.close()
            raise
        self.sock = _Bounded(tls, self)


class _Request:
    """What one RequestSpec has learnt: the answer per (VM, target) and,
    once lisecd failed, why. It keeps one connection to lisecd, closed when
    Nova drops the RequestSpec."""

    def __init__(self):
        self.answers = {}
        self.down = None
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _vm_id(spec_obj):
    """The lisec VM id the instance names, or None; _Refusal when it is
    named ambiguously. Image properties cannot carry it: Nova's ImageMetaProps
    keeps only the properties Nova itself defines."""
    hint = None
    hints = spec_obj.scheduler_hints \
        if spec_obj.obj_attr_is_set('scheduler_hints') else None
    if hints and VM_KEY in hints:
        values = hints[VM_KEY]
        if not isinstance(values, list):
            values = [values]
        if len(values) != 1 or not isinstance(values[0], str) \
                or not values[0]:
            raise _Refusal('the scheduler hint %s must be one VM id' % VM_KEY)
        hint = values[0]
    spec = None
    if spec_obj.obj_attr_is_set('flavor') and spec_obj.flavor is not None \
            and spec_obj.flavor.obj_attr_is_set('extra_specs'):
        spec = (spec_obj.flavor.extra_specs or {}).get(VM_KEY)
        if spec is not None and not spec:
            raise _Refusal('the flavor extra spec %s is empty' % VM_KEY)
    if hint and spec and hint != spec:
        raise _Refusal('the scheduler hint %s=%s and the flavor extra spec '
                       '%s=%s name different VMs' % (VM_KEY, hint, VM_KEY,
                                                     spec))
    return hint or spec


def _reasons(violations):
    """lisecd's violations as one line, requirement then sentence."""
    return '; '.join('%s: %s' % (v['requirement'], v.get('sentence', ''))
                     for v in violations)


def _read_verdict(status, body):
    """None when lisecd allows, else the reason; _Refusal for an answer
    that is not a decision."""
    try:
        doc = json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise _Refusal('lisecd answered %d with a body that is not JSON '
                       '(%s): refused (fail closed)' % (status, e))
    if status != 200:
        err = doc.get('error') if isinstance(doc, dict) else None
        msg = err.get('message') if isinstance(err, dict) else None
        if not isinstance(msg, str):
            raise _Refusal('lisecd answered %d without an error message: '
                           'refused (fail closed)' % status)
        # 4xx: lisecd judged the question (unknown host or VM, a role it
        # does not admit); 5xx: it could not. Either way no placement.
        return 'lisecd answered %d: %s' % (status, msg)
    if not isinstance(doc, dict) or not isinstance(doc.get('allow'), bool):
        raise _Refusal('lisecd\'s answer has no boolean "allow": refused '
                       '(fail closed)')
    violations = doc.get('violations', [])
    if not isinstance(violations, list) or not all(
            isinstance(v, dict) and isinstance(v.get('requirement'), str)
            for v in violations):
        raise _Refusal('lisecd\'s answer has malformed "violations": refused '
                       '(fail closed)')
    if doc['allow']:
        return None
    if violations and all(v['requirement'] == ALREADY_THERE
                          for v in violations):
        return None
    if not violations:
        raise _Refusal('lisecd denied without naming a requirement: '
                       'refused (fail closed)')
    return _reasons(violations)


class LisecFilter(filters.BaseHostFilter):
    """Keeps the hosts lisec allows the instance's lisec VM on."""

    # A rebuild keeps the host; lisec is asked again all the same, since the
    # host's trust may have changed since the instance was placed.
    RUN_ON_REBUILD = True

    def __init__(self):
        super().__init__()
        self._requests = weakref.WeakKeyDictionary()
        self._tls = None

    def _context(self):
        """The TLS context from [lisec], built once."""
        if self._tls is None:
            conf = cfg.CONF.lisec
            missing = [n for n in ('url', 'cert_file', 'key_file', 'ca_file')
                       if not getattr(conf, n)]
            if missing:
                raise _Refusal('[lisec] %s not set in nova.conf: refused '
                               '(fail closed)' % ', '.join(missing),
                               down=True)
            try:
                ctx = ssl.create_default_context(cafile=conf.ca_file)
                ctx.load_cert_chain(conf.cert_file, conf.key_file)
            except (OSError, ssl.SSLError) as e:
                raise _Refusal('cannot load [lisec] cert_file, key_file or '
                               'ca_file: %s: refused (fail closed)' % e,
                               down=True)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._tls = ctx
        return self._tls

    def _request(self, spec_obj):
        req = self._requests.get(spec_obj)
        if req is None:
            req = _Request()
            self._requests[spec_obj] = req
            weakref.finalize(spec_obj, req.close)
        return req

    def _ask(self, req, vm, kind, name):
        """lisecd's verdict: None (allowed) or the reason it refuses."""
        conf = cfg.CONF.lisec
        ctx = self._context()
        url = urllib.parse.urlsplit(conf.url)
        body = json.dumps({'vm': vm, kind: name}).encode()
        headers = {'Content-Type': 'application/json',
                   'Accept': 'application/json'}
        # [lisec] timeout bounds the whole question (connect, TLS, request
        # and answer), not each read. A kept-alive connection lisecd closed
        # meanwhile fails once; the question is then asked once more on a
        # new connection, within the same time.
        deadline = time.monotonic() + conf.timeout
        for attempt in (1, 2):
            if req.conn is None:
                req.conn = _Connection(url.hostname, url.port or 443, ctx)
            req.conn.deadline = deadline
            try:
                req.conn.request('POST', url.path.rstrip('/') +
                                 '/v1/decisions/migration', body, headers)
                resp = req.conn.getresponse()
                data = resp.read(conf.max_answer_bytes + 1)
                status = resp.status
            except (OSError, http.client.HTTPException) as e:
                req.close()
                reused = attempt == 1 and isinstance(
                    e, (http.client.RemoteDisconnected,
                        ConnectionResetError, BrokenPipeError))
                if reused:
                    continue
                raise _Refusal('lisecd at %s cannot be asked: %s: refused '
                               '(fail closed)' % (conf.url, e), down=True)
            if len(data) > conf.max_answer_bytes:
                req.close()
                raise _Refusal('lisecd\'s answer is longer than [lisec] '
                               'max_answer_bytes (%d): refused (fail closed)'
                               % conf.max_answer_bytes)
            if resp.will_close:
                req.close()
            return _read_verdict(status, data)

    def host_passes(self, host_state, spec_obj):
        try:
            vm = _vm_id(spec_obj)
        except _Refusal as e:
            LOG.info('lisec: host %s refused: %s', host_state.host, e.reason)
            return False
        if vm is None:
            if cfg.CONF.lisec.require_vm_id:
                LOG.info('lisec: host %s refused: the instance names no lisec '
                         'VM (%s) and [lisec] require_vm_id is on',
                         host_state.host, VM_KEY)
                return False
            return True
        if spec_obj.obj_attr_is_set('num_instances') and \
                spec_obj.num_instances > 1:
            LOG.info('lisec: host %s refused: %s=%s names one VM, and the '
                     'request is for %d instances', host_state.host, VM_KEY,
                     vm, spec_obj.num_instances)
            return False
        kind = cfg.CONF.lisec.target
        name = host_state.host if kind == 'host' else host_state.nodename
        if not name:
            LOG.info('lisec: a host without a %s name refused', kind)
            return False

        req = self._request(spec_obj)
        key = (vm, kind, name)
        if key not in req.answers:
            if req.down is not None:
                reason = req.down
            else:
                try:
                    reason = self._ask(req, vm, kind, name)
                except _Refusal as e:
                    reason = e.reason
                    if e.down:
                        req.down = reason
                        LOG.error('lisec: %s', reason)
            req.answers[key] = reason
        reason = req.answers[key]
        if reason is None:
            LOG.debug('lisec: VM %s may run on %s %s', vm, kind, name)
            return True
        LOG.info('lisec: %s %s refused for VM %s: %s', kind, name, vm, reason)
        return False
