// Anchors a file on a Chancery chain and fetches its proof, with nothing but JDK 17:
// java.net.http for JSON-RPC, java.security for Ed25519, MessageDigest for SHA-256.
//
//   java examples/java/Anchor.java http://127.0.0.1:7700 ~/.chancery/dev/integrator.key contract.pdf proof.json
//
// The node prepares the tx (tx_prepare) and this program signs the bytes it is given.
// It signs them only after checking what it can without a Chancery SDK: that the
// prepared tx names its own key, carries the digest it computed, and uses its nonce
// (docs/RPC.md, "Signing bytes a node prepared", says what a node could still do).
// Then `chancery verify proof.json --genesis genesis.json --file contract.pdf` checks
// the proof offline.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.EdECPrivateKeySpec;
import java.security.spec.NamedParameterSpec;
import java.time.Duration;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Anchor {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final HexFormat HEX = HexFormat.of();

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java Anchor.java RPC_URL KEY_FILE FILE PROOF_OUT");
            System.exit(2);
        }
        String rpc = args[0];
        String keyFile = Files.readString(Path.of(args[1]));
        byte[] file = Files.readAllBytes(Path.of(args[2]));
        Path proofOut = Path.of(args[3]);

        // The key file (JSON): the public key and the 32-byte secret seed, in hex.
        String publicKey = field(keyFile, "public_key");
        byte[] seed = HEX.parseHex(field(keyFile, "secret_key"));
        PrivateKey key = KeyFactory.getInstance("Ed25519")
            .generatePrivate(new EdECPrivateKeySpec(NamedParameterSpec.ED25519, seed));

        // 1. The record: a document digest (SHA-256 of the file's bytes).
        String digest = HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(file));
        long nonce = System.currentTimeMillis() * 1000; // microseconds: above every earlier nonce
        String body = "{\"evidence\":{\"kind\":\"document\",\"digest\":{\"alg\":\"sha256\",\"bytes\":\"" + digest
            + "\"},\"refs\":[]}}";

        // 2. The node prepares the tx and the bytes to sign.
        String prepared = call(rpc, "tx_prepare", "[" + body + ",\"" + publicKey + "\"," + nonce + "]");
        String unsignedTx = field(prepared, "unsigned_tx");
        String signBytes = field(prepared, "sign_bytes");
        // What can be checked without an SDK: the tx carries this key, this digest and
        // this nonce, and its signature bytes are still zero.
        require(unsignedTx.contains(publicKey), "the prepared tx does not name this key");
        require(unsignedTx.contains(digest), "the prepared tx does not carry this file's digest");
        require(unsignedTx.endsWith("0".repeat(128)), "the prepared tx is already signed");
        require(signBytes.length() == 64, "sign_bytes is not 32 bytes");

        // 3. Sign the 32 bytes and submit.
        Signature signer = Signature.getInstance("Ed25519");
        signer.initSign(key);
        signer.update(HEX.parseHex(signBytes));
        String signature = HEX.formatHex(signer.sign());
        String txHash = string(call(rpc, "tx_submitSigned", "[\"" + unsignedTx + "\",\"" + signature + "\"]"));
        System.out.println("submitted  tx " + txHash);

        // 4. Wait until it is committed, then fetch its proof.
        for (int i = 0; ; i++) {
            String status = call(rpc, "evidence_status", "[\"" + txHash + "\"]");
            if (status.contains("\"status\":\"committed\"")) {
                System.out.println("committed  height " + number(status, "height") + ", block time "
                    + number(status, "block_time_ms") + " ms");
                break;
            }
            require(!status.contains("\"dropped\""), "the node dropped the tx: " + status);
            require(i < 600, "not committed within a minute: " + status);
            Thread.sleep(100);
        }
        String proof = call(rpc, "evidence_proof", "[\"" + txHash + "\",null]");
        Files.writeString(proofOut, proof + "\n");
        System.out.println("wrote the proof to " + proofOut);
    }

    /** One JSON-RPC call over HTTP; the text of its result, or an exception with the node's error. */
    static String call(String rpc, String method, String params) throws Exception {
        String request = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":" + params + "}";
        HttpResponse<String> response = HTTP.send(
            HttpRequest.newBuilder(URI.create(rpc)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(request, StandardCharsets.UTF_8)).build(),
            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        String text = response.body();
        int at = text.indexOf("\"result\":");
        if (response.statusCode() != 200 || at < 0) {
            throw new IllegalStateException(method + " failed (HTTP " + response.statusCode() + "): " + text);
        }
        // The answer is {"jsonrpc":"2.0",...,"result":RESULT,"id":1} or with "id" first.
        String result = text.substring(at + "\"result\":".length()).trim();
        int end = result.lastIndexOf('}');
        String tail = result.substring(0, end).trim();
        if (tail.endsWith(",\"id\":1")) {
            tail = tail.substring(0, tail.length() - ",\"id\":1".length());
        }
        return tail;
    }

    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        require(m.find(), "no " + name + " in " + json);
        return m.group(1);
    }

    static String number(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*(\\d+)").matcher(json);
        require(m.find(), "no " + name + " in " + json);
        return m.group(1);
    }

    static String string(String json) {
        require(json.startsWith("\"") && json.endsWith("\""), "not a string: " + json);
        return json.substring(1, json.length() - 1);
    }

    static void require(boolean condition, String why) {
        if (!condition) {
            throw new IllegalStateException(why);
        }
    }
}
