import { randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameBatcher, withCork } from '../shared/batcher.js';
import { WireError } from '../shared/errors.js';
import { closeWith, rawErrorResponse } from '../shared/http-client-error.js';
import type { Logger } from '../shared/log.js';
import {
  closeReason,
  MAX_FRAME_BYTES,
  NOT_LEADER_CODE,
  parseFrame,
  READS_HEADER,
  type FrameIn,
} from '../shared/protocol.js';
import { helloProof } from '../shared/proof.js';
import type { NodeConn } from './membership.js';
import { capsOf } from './placement.js';
import type { LeaderTerm } from './term.js';

export interface ClusterServerOptions {
  secret: string | undefined;
  maxNodes: number;
  requestResultPeriod: number;
  /** The incarnation of this proxy's file, for WELCOME (incarnation.ts). */
  incarnation?: number;
  /** Why a node may not join now (this proxy is not its group's leader). */
  refusal: () => string;
  /**
   * The other proxy known to lead (a group). While none is (an election is on), or the one
   * known is the leader the node just lost (its lease has not run out yet), a node that
   * connects here waits, to be let in if this proxy wins or sent on the moment another does.
   */
  otherLeader?: () => string | undefined;
  /** How long a node may wait here for an election's outcome. */
  parkMs?: number;
  log: Logger;
}

const HELLO_DEADLINE_MS = 5000;
const PARK_MS = 5000;
const STOPPING = new WireError('UNAVAILABLE', 'the proxy is stopping');
/** How often the same refusal of the same peer is logged again. */
const REPEAT_REFUSAL_MS = 10_000;

/** A node connection waiting for the group to have a leader. */
interface Parked {
  ws: WebSocket;
  peer: string | undefined;
  /** The leader the node lost (`?lost=` on its URL), if it said. */
  lost: string | undefined;
  timer: NodeJS.Timeout;
}

/** The `lost` query parameter of a node's connection URL. */
function lostLeaderOf(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (!url || q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('lost') ?? undefined;
}

/** Loopback peers: the only ones accepted when no CLUSTER_SECRET is set. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Closes with a reason that always fits; a socket already gone is simply dropped. */
function safeClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, closeReason(reason));
  } catch {
    ws.terminate();
  }
}

function proofMatches(secret: string, nonce: string, nodeId: string, proof: string): boolean {
  const want = Buffer.from(helloProof(secret, nonce, nodeId), 'hex');
  const got = Buffer.from(proof, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The WebSocket endpoint nodes join at `/cluster` (the proxy's HTTP server hands it the
 * upgrades there: `upgrade`): challenge, proof of CLUSTER_SECRET, HELLO, then validated frames
 * to the scheduler. An invalid frame closes only its own connection.
 */
export class ClusterServer {
  readonly wss: WebSocketServer;
  /** Frames that failed validation or authentication, for metrics. */
  rejectedFrames = 0;
  refusedConnections = 0;
  private readonly sockets = new Set<WebSocket>();
  /** Set by `close`: the WebSocket server takes no more connections. */
  private stopping = false;
  private readonly parked = new Set<Parked>();
  /** Connections of nodes that read WELCOME's `incarnation` (READS_HEADER). */
  private readonly readsIncarnation = new WeakSet<WebSocket>();
  /** Refusals said lately (peer and reason), with how many followed unsaid. */
  private readonly refusals = new Map<string, { at: number; repeats: number }>();

  constructor(
    /** The term nodes join now; undefined when this proxy does not lead. */
    private readonly currentTerm: () => LeaderTerm | undefined,
    private readonly opts: ClusterServerOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
    });
    this.wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
      if (String(req.headers[READS_HEADER]).split(',').includes('incarnation')) {
        this.readsIncarnation.add(ws);
      }
      this.accept(ws, req.socket.remoteAddress, lostLeaderOf(req.url));
    });
    // a WebSocket handshake that is not valid (no key, an unknown version), in the API's shape
    this.wss.on('wsClientError', (err: Error, socket: Duplex) => {
      const headers: Record<string, string> = err.message.includes('Version')
        ? { 'Sec-WebSocket-Version': '13' }
        : {};
      const error = new WireError('BAD_REQUEST', `not a WebSocket handshake: ${err.message}`);
      closeWith(socket, rawErrorResponse(400, error, headers));
    });
  }

  /**
   * Takes a WebSocket upgrade at `/cluster`; false for any other request there (another
   * protocol, another method), which the HTTP server answers as an ordinary one.
   */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') return false;
    if (this.stopping) {
      // in the API's shape, where the ws library would answer its own plain-text 503
      socket.on('error', () => socket.destroy());
      if (!socket.writable) socket.destroy();
      else closeWith(socket, rawErrorResponse(503, STOPPING));
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    return true;
  }

  private refuse(ws: WebSocket, code: number, reason: string, peer: string | undefined): void {
    this.refusedConnections++;
    // a refused node tries again about every second: the same refusal is said seldom, counted
    const key = `${peer} ${reason}`;
    const now = Date.now();
    const said = this.refusals.get(key);
    if (said && now - said.at < REPEAT_REFUSAL_MS) said.repeats++;
    else {
      if (this.refusals.size > 1000) this.refusals.clear();
      this.refusals.set(key, { at: now, repeats: 0 });
      const repeats = said ? { repeats: said.repeats } : {};
      this.opts.log.warn({ peer, reason, ...repeats }, 'refused a node connection');
    }
    safeClose(ws, code, reason);
  }

  private accept(ws: WebSocket, peer: string | undefined, lost: string | undefined): void {
    if (!this.opts.secret && !isLoopback(peer)) {
      return this.refuse(ws, 4003, 'no CLUSTER_SECRET is set: only loopback nodes may join', peer);
    }
    const term = this.currentTerm();
    if (term) return this.admit(ws, peer, term);
    if (this.mustWait(lost)) return this.park(ws, peer, lost);
    this.refuse(ws, NOT_LEADER_CODE, this.opts.refusal(), peer);
  }

  /** Whether a node that lost `lost` should wait here for the group's next leader. */
  private mustWait(lost: string | undefined): boolean {
    if (!this.opts.otherLeader) return false;
    const leader = this.opts.otherLeader();
    return leader === undefined || leader === lost;
  }

  private park(ws: WebSocket, peer: string | undefined, lost: string | undefined): void {
    const p: Parked = {
      ws,
      peer,
      lost,
      timer: setTimeout(() => {
        this.parked.delete(p);
        this.refuse(ws, NOT_LEADER_CODE, this.opts.refusal(), peer);
      }, this.opts.parkMs ?? PARK_MS),
    };
    this.parked.add(p);
    ws.once('close', () => {
      clearTimeout(p.timer);
      this.parked.delete(p);
    });
  }

  /**
   * Who leads may have changed: waiting nodes join this proxy if it leads now, or are sent at
   * once to the leader named.
   */
  leaderChanged(): void {
    for (const p of [...this.parked]) {
      const term = this.currentTerm();
      if (!term && this.mustWait(p.lost)) continue;
      clearTimeout(p.timer);
      this.parked.delete(p);
      if (p.ws.readyState !== p.ws.OPEN) continue;
      if (term) this.admit(p.ws, p.peer, term);
      else this.refuse(p.ws, NOT_LEADER_CODE, this.opts.refusal(), p.peer);
    }
  }

  private admit(ws: WebSocket, peer: string | undefined, term: LeaderTerm): void {
    const { secret, log } = this.opts;
    const scheduler = term.scheduler;
    const epoch = term.epoch || undefined;
    const nonce = randomBytes(32).toString('hex');
    let nodeId: string | undefined;
    let conn: NodeConn | undefined;
    let declaredDead = false;
    const deadline = setTimeout(
      () => this.refuse(ws, 4008, 'no HELLO in time', peer),
      HELLO_DEADLINE_MS,
    );
    // Every frame leaves only while this term may act: a deposed leader sends nothing more.
    const send = (frame: FrameIn) => {
      if (ws.readyState !== ws.OPEN) return;
      if (this.currentTerm() !== term) return safeClose(ws, NOT_LEADER_CODE, this.opts.refusal());
      ws.send(JSON.stringify(epoch ? { ...frame, epoch } : frame));
    };
    // a frame put together as text: the same checks, and the epoch added before its last brace
    const sendText = (json: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (this.currentTerm() !== term) return safeClose(ws, NOT_LEADER_CODE, this.opts.refusal());
      ws.send(epoch ? `${json.slice(0, -1)},"epoch":${epoch}}` : json);
    };
    const corked = (fn: () => void) => withCork(ws, fn);
    ws.on('message', (data, isBinary) => {
      const parsed = isBinary
        ? ({ ok: false, reason: 'binary frames are not part of the protocol' } as const)
        : parseFrame(data.toString());
      if (!parsed.ok) {
        this.rejectedFrames++;
        log.warn({ peer, node: nodeId, reason: parsed.reason }, 'invalid frame from a node');
        safeClose(ws, 1008, parsed.reason);
        return;
      }
      const frame = parsed.frame;
      if (this.currentTerm() !== term) return safeClose(ws, NOT_LEADER_CODE, this.opts.refusal());
      if (!conn) {
        if (frame.type !== 'HELLO') {
          this.rejectedFrames++;
          return this.refuse(ws, 1008, `expected HELLO, got ${frame.type}`, peer);
        }
        clearTimeout(deadline);
        if (secret && !frame.proof) {
          return this.refuse(ws, 4001, 'no CLUSTER_SECRET proof: the node has no secret', peer);
        }
        if (secret && !proofMatches(secret, nonce, frame.nodeId, frame.proof ?? '')) {
          return this.refuse(ws, 4001, 'wrong CLUSTER_SECRET proof', peer);
        }
        if (!secret && frame.proof) {
          log.warn({ node: frame.nodeId }, 'a node sent a secret proof but the proxy has none');
        }
        const known = scheduler.nodes.get(frame.nodeId);
        if (known?.conn && Date.now() - known.lastSeen < term.nodeTimeout) {
          // a live node holds this id: replacing it would requeue its jobs on every rejoin
          const other = known.conn.peer ? ` from ${known.conn.peer}` : '';
          const why = `NODE_ID ${frame.nodeId} is in use by a node connected${other}: give each node its own NODE_ID`;
          return this.refuse(ws, 4009, why, peer);
        }
        const connected = scheduler.connectedCount;
        if (!known?.conn && connected >= this.opts.maxNodes) {
          return this.refuse(ws, 4029, `MAX_NUM_NODES (${this.opts.maxNodes}) reached`, peer);
        }
        nodeId = frame.nodeId;
        const c: NodeConn = {
          peer,
          out: new FrameBatcher(send, corked, sendText),
          send,
          close: (code, reason, graceMs = 0) => {
            if (code === 4008) declaredDead = true;
            safeClose(ws, code, reason);
            // a hung peer never answers the close handshake
            setTimeout(() => ws.terminate(), Math.max(1000, graceMs)).unref();
          },
        };
        conn = c;
        const caps = capsOf({ labels: frame.labels, cpus: frame.cpus, memMb: frame.memMb });
        const { slots, holds, workers } = frame;
        const drop = scheduler.join(frame.nodeId, slots, holds, c, workers, caps);
        term.nodeJoined(frame.nodeId);
        send({
          type: 'WELCOME',
          drop,
          requestResultPeriod: this.opts.requestResultPeriod,
          types: scheduler.knownTypes(),
          // a node of an earlier release would refuse the field (its WELCOME is strict)
          incarnation: this.readsIncarnation.has(ws) ? this.opts.incarnation : undefined,
        });
        c.out.flush();
        return;
      }
      if (frame.type === 'HELLO') {
        this.rejectedFrames++;
        safeClose(ws, 1008, 'HELLO was already received');
        return;
      }
      scheduler.handle(nodeId as string, frame, conn);
    });
    ws.on('error', (err) => log.debug({ err: err.message, node: nodeId }, 'node socket error'));
    // pings are the node's heartbeat: failure detection learns its rhythm from them
    ws.on('ping', () => {
      if (nodeId && conn) scheduler.heartbeat(nodeId, conn);
    });
    ws.on('close', (code) => {
      clearTimeout(deadline);
      // a node declared dead that answers the close handshake (not cut off: 1006) was alive
      if (declaredDead && nodeId) scheduler.verdictSettled(nodeId, code !== 1006);
      if (nodeId && conn) scheduler.leave(nodeId, conn, 'connection closed');
      this.sockets.delete(ws);
    });
    this.sockets.add(ws);
    send({ type: 'CHALLENGE', nonce });
  }

  /** Closes every node connection (this proxy stopped leading). */
  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets) {
      safeClose(ws, code, reason);
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  close(): Promise<void> {
    this.stopping = true;
    for (const p of this.parked) clearTimeout(p.timer);
    this.parked.clear();
    for (const ws of this.wss.clients) ws.close(1001, 'proxy shutting down');
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
