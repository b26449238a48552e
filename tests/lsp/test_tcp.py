"""``codeassist lsp --tcp HOST:PORT``: a real server process, a real socket, the LSP lifecycle over it."""

import json
import socket
import subprocess
import sys
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(sock: socket.socket, message: dict) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def receive(stream, want_id: int) -> dict:
    """Reads messages until the response with ``want_id`` (notifications are skipped)."""
    while True:
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if not length:
            raise EOFError("the server closed the connection")
        message = json.loads(stream.read(length))
        if message.get("id") == want_id and "method" not in message:
            return message


@pytest.fixture
def tcp_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "codeassist", "lsp", "--tcp", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            break
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the server did not listen on {port}: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield proc, sock
    sock.close()
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_initialize_status_and_shutdown_over_tcp(tcp_server, tmp_path):
    proc, sock = tcp_server
    stream = sock.makefile("rb")
    send(sock, {"id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": None, "capabilities": {},
        "initializationOptions": {"model": str(tmp_path / "absent.gguf")}}})  # no model: lifecycle only
    result = receive(stream, 1)["result"]
    assert result["serverInfo"]["name"] == "codeassist"
    caps = result["capabilities"]
    assert caps["completionProvider"] and caps["codeActionProvider"]["resolveProvider"] is True
    send(sock, {"method": "initialized", "params": {}})
    send(sock, {"id": 2, "method": "workspace/executeCommand", "params": {"command": "codeassist.status"}})
    assert receive(stream, 2)["result"]["root"] is None
    send(sock, {"id": 3, "method": "shutdown"})
    assert receive(stream, 3) == {"jsonrpc": "2.0", "id": 3, "result": None}
    send(sock, {"method": "exit"})
    assert proc.wait(timeout=30) == 0


def test_a_bad_address_is_refused_with_a_clear_message():
    proc = subprocess.run([sys.executable, "-m", "codeassist", "lsp", "--tcp", "localhost"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "'localhost' is not HOST:PORT" in proc.stderr
