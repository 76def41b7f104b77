// Golden fixtures: pgoutput messages captured from a real PostgreSQL 15.
//
// How they were captured (a throwaway cluster, wal_level = logical, timezone = 'UTC'):
//
//   CREATE TYPE embedding_status AS ENUM ('pending','completed','failed');        -- oid 16385
//   CREATE TABLE entity (id uuid PRIMARY KEY, tenant_id uuid NOT NULL,            -- oid 16391
//     entity_type text NOT NULL, valid_to timestamptz, deleted_at timestamptz);
//   CREATE TABLE embedding (id bigint PRIMARY KEY, entity_id uuid NOT NULL,       -- oid 16398
//     model text NOT NULL, vector real[], status embedding_status NOT NULL, n int4);
//   ALTER TABLE embedding ALTER COLUMN vector SET STORAGE EXTERNAL;
//   CREATE PUBLICATION idx_pub FOR TABLE entity, embedding;
//   SELECT pg_create_logical_replication_slot('probe', 'pgoutput');
//   SELECT pg_replication_origin_create('golden_origin');
//   -- xid 730
//   BEGIN;
//   INSERT INTO entity VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
//     '11111111-2222-3333-4444-555555555555', 'template', NULL, '2024-05-06 07:08:09.123456+00');
//   INSERT INTO embedding VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
//     'text-embedding-3-small', '{1,2.5,-3}', 'pending', 42);
//   COMMIT;
//   INSERT INTO embedding VALUES (2, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'big',     -- 731
//     (SELECT array_agg((i * 0.25 - 10)::real ORDER BY i) FROM generate_series(0, 599) i),
//     'pending', -7);
//   INSERT INTO embedding VALUES (3, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'odd',     -- 732
//     '{NaN,Infinity,-Infinity,-0,1e-40}', 'failed', NULL);
//   UPDATE embedding SET status = 'completed' WHERE id = 2;     -- 733: TOASTed vector -> 'u'
//   UPDATE embedding SET id = 20 WHERE id = 1;                  -- 734: key change -> 'K'
//   DELETE FROM embedding WHERE id = 20;                        -- 735
//   ALTER TABLE embedding REPLICA IDENTITY FULL;
//   UPDATE embedding SET status = 'completed', n = 5 WHERE id = 3;   -- 737: 'O'
//   DELETE FROM embedding WHERE id = 3;                              -- 738: 'O'
//   TRUNCATE entity, embedding RESTART IDENTITY;                     -- 739
//   BEGIN;                                                           -- 740
//   SELECT pg_logical_emit_message(true, 'vecmirror.test', 'hello');
//   INSERT INTO entity VALUES ('00000000-0000-0000-0000-000000000001',
//     '11111111-2222-3333-4444-555555555555', 'context', NULL, NULL);
//   COMMIT;
//   SELECT pg_logical_emit_message(false, 'vecmirror.hb', '12345');
//   SELECT pg_replication_origin_session_setup('golden_origin');
//   BEGIN;                                                           -- 741
//   SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-01 00:00:00+00');
//   INSERT INTO entity VALUES ('00000000-0000-0000-0000-000000000002',
//     '11111111-2222-3333-4444-555555555555', 'workflow', NULL, NULL);
//   COMMIT;
//
// then: SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('probe',
//   NULL, NULL, 'proto_version', '1', 'publication_names', 'idx_pub', 'binary', 'true',
//   'messages', 'true')  (and once more without 'binary' and 'messages').
// The peek's lsn of a Commit row is the commit's end_lsn. The expected values below come from
// the SQL above, not from the decoder.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "src/pg/pgoutput.h"
#include "src/pg/wire_format.h"
#include "tests/support/pg_test_bytes.h"

namespace vecmirror::pg {
namespace {

struct GoldenFrame {
  const char* lsn;  // as the peek printed it
  uint32_t xid;     // 0 for a non-transactional message
  const char* hex;
};

// binary 'true', messages 'true': every row of the peek, in order.
const GoldenFrame kBinaryStream[] = {
    {"0/1544628", 730, "420000000001544870000303ebc341b112000002da"},  // B
    {"0/1544628", 730,  // R, 112 bytes
     "52000040077075626c696300656e74697479006400050169640000000b86ffffffff0074656e616e745f6964"
     "0000000b86ffffffff00656e746974795f747970650000000019ffffffff0076616c69645f746f00000004a0"
     "ffffffff0064656c657465645f617400000004a0ffffffff"},
    {"0/1544628", 730,  // I, 77 bytes
     "49000040074e00056200000010a0eebc999c0b4ef8bb6d6bb9bd380a11620000001011111111222233334444"
     "555555555555620000000874656d706c6174656e62000000080002bac2801b6a80"},
    {"0/1544740", 730, "59000040017075626c696300656d62656464696e675f73746174757300"},  // Y
    {"0/1544740", 730,  // R, 114 bytes
     "520000400e7075626c696300656d62656464696e67006400060169640000000014ffffffff00656e74697479"
     "5f69640000000b86ffffffff006d6f64656c0000000019ffffffff00766563746f7200000003fdffffffff00"
     "7374617475730000004001ffffffff006e0000000017ffffffff"},
    {"0/1544740", 730,  // I, 139 bytes
     "490000400e4e0006620000000800000000000000016200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "000016746578742d656d62656464696e672d332d736d616c6c620000002c0000000100000000000002bc0000"
     "000300000001000000043f800000000000044020000000000004c0400000620000000770656e64696e676200"
     "0000040000002a"},
    {"0/15448A0", 730, "4300000000000154487000000000015448a0000303ebc341b112"},  // C
    {"0/1545380", 731, "420000000001545430000303ebc341b71a000002db"},  // B
    {"0/1545380", 731,  // I, 4896 bytes
     "490000400e4e0006620000000800000000000000026200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "00000362696762000012d40000000100000000000002bc000002580000000100000004c120000000000004c1"
     "1c000000000004c118000000000004c114000000000004c110000000000004c10c000000000004c108000000"
     "000004c104000000000004c100000000000004c0f8000000000004c0f0000000000004c0e8000000000004c0"
     "e0000000000004c0d8000000000004c0d0000000000004c0c8000000000004c0c0000000000004c0b8000000"
     "000004c0b0000000000004c0a8000000000004c0a0000000000004c098000000000004c090000000000004c0"
     "88000000000004c080000000000004c070000000000004c060000000000004c050000000000004c040000000"
     "000004c030000000000004c020000000000004c010000000000004c000000000000004bfe0000000000004bf"
     "c0000000000004bfa0000000000004bf80000000000004bf40000000000004bf00000000000004be80000000"
     "00000400000000000000043e800000000000043f000000000000043f400000000000043f800000000000043f"
     "a00000000000043fc00000000000043fe0000000000004400000000000000440100000000000044020000000"
     "0000044030000000000004404000000000000440500000000000044060000000000004407000000000000440"
     "8000000000000440880000000000044090000000000004409800000000000440a000000000000440a8000000"
     "00000440b000000000000440b800000000000440c000000000000440c800000000000440d000000000000440"
     "d800000000000440e000000000000440e800000000000440f000000000000440f80000000000044100000000"
     "00000441040000000000044108000000000004410c0000000000044110000000000004411400000000000441"
     "18000000000004411c000000000004412000000000000441240000000000044128000000000004412c000000"
     "000004413000000000000441340000000000044138000000000004413c000000000004414000000000000441"
     "440000000000044148000000000004414c000000000004415000000000000441540000000000044158000000"
     "000004415c000000000004416000000000000441640000000000044168000000000004416c00000000000441"
     "7000000000000441740000000000044178000000000004417c00000000000441800000000000044182000000"
     "000004418400000000000441860000000000044188000000000004418a000000000004418c00000000000441"
     "8e00000000000441900000000000044192000000000004419400000000000441960000000000044198000000"
     "000004419a000000000004419c000000000004419e00000000000441a000000000000441a200000000000441"
     "a400000000000441a600000000000441a800000000000441aa00000000000441ac00000000000441ae000000"
     "00000441b000000000000441b200000000000441b400000000000441b600000000000441b800000000000441"
     "ba00000000000441bc00000000000441be00000000000441c000000000000441c200000000000441c4000000"
     "00000441c600000000000441c800000000000441ca00000000000441cc00000000000441ce00000000000441"
     "d000000000000441d200000000000441d400000000000441d600000000000441d800000000000441da000000"
     "00000441dc00000000000441de00000000000441e000000000000441e200000000000441e400000000000441"
     "e600000000000441e800000000000441ea00000000000441ec00000000000441ee00000000000441f0000000"
     "00000441f200000000000441f400000000000441f600000000000441f800000000000441fa00000000000441"
     "fc00000000000441fe0000000000044200000000000004420100000000000442020000000000044203000000"
     "0000044204000000000004420500000000000442060000000000044207000000000004420800000000000442"
     "09000000000004420a000000000004420b000000000004420c000000000004420d000000000004420e000000"
     "000004420f000000000004421000000000000442110000000000044212000000000004421300000000000442"
     "1400000000000442150000000000044216000000000004421700000000000442180000000000044219000000"
     "000004421a000000000004421b000000000004421c000000000004421d000000000004421e00000000000442"
     "1f00000000000442200000000000044221000000000004422200000000000442230000000000044224000000"
     "0000044225000000000004422600000000000442270000000000044228000000000004422900000000000442"
     "2a000000000004422b000000000004422c000000000004422d000000000004422e000000000004422f000000"
     "0000044230000000000004423100000000000442320000000000044233000000000004423400000000000442"
     "350000000000044236000000000004423700000000000442380000000000044239000000000004423a000000"
     "000004423b000000000004423c000000000004423d000000000004423e000000000004423f00000000000442"
     "4000000000000442410000000000044242000000000004424300000000000442440000000000044245000000"
     "0000044246000000000004424700000000000442480000000000044249000000000004424a00000000000442"
     "4b000000000004424c000000000004424d000000000004424e000000000004424f0000000000044250000000"
     "0000044251000000000004425200000000000442530000000000044254000000000004425500000000000442"
     "56000000000004425700000000000442580000000000044259000000000004425a000000000004425b000000"
     "000004425c000000000004425d000000000004425e000000000004425f000000000004426000000000000442"
     "6100000000000442620000000000044263000000000004426400000000000442650000000000044266000000"
     "000004426700000000000442680000000000044269000000000004426a000000000004426b00000000000442"
     "6c000000000004426d000000000004426e000000000004426f00000000000442700000000000044271000000"
     "0000044272000000000004427300000000000442740000000000044275000000000004427600000000000442"
     "7700000000000442780000000000044279000000000004427a000000000004427b000000000004427c000000"
     "000004427d000000000004427e000000000004427f0000000000044280000000000004428080000000000442"
     "8100000000000442818000000000044282000000000004428280000000000442830000000000044283800000"
     "0000044284000000000004428480000000000442850000000000044285800000000004428600000000000442"
     "8680000000000442870000000000044287800000000004428800000000000442888000000000044289000000"
     "0000044289800000000004428a000000000004428a800000000004428b000000000004428b80000000000442"
     "8c000000000004428c800000000004428d000000000004428d800000000004428e000000000004428e800000"
     "000004428f000000000004428f80000000000442900000000000044290800000000004429100000000000442"
     "9180000000000442920000000000044292800000000004429300000000000442938000000000044294000000"
     "0000044294800000000004429500000000000442958000000000044296000000000004429680000000000442"
     "9700000000000442978000000000044298000000000004429880000000000442990000000000044299800000"
     "000004429a000000000004429a800000000004429b000000000004429b800000000004429c00000000000442"
     "9c800000000004429d000000000004429d800000000004429e000000000004429e800000000004429f000000"
     "000004429f80000000000442a000000000000442a080000000000442a100000000000442a180000000000442"
     "a200000000000442a280000000000442a300000000000442a380000000000442a400000000000442a4800000"
     "00000442a500000000000442a580000000000442a600000000000442a680000000000442a700000000000442"
     "a780000000000442a800000000000442a880000000000442a900000000000442a980000000000442aa000000"
     "00000442aa80000000000442ab00000000000442ab80000000000442ac00000000000442ac80000000000442"
     "ad00000000000442ad80000000000442ae00000000000442ae80000000000442af00000000000442af800000"
     "00000442b000000000000442b080000000000442b100000000000442b180000000000442b200000000000442"
     "b280000000000442b300000000000442b380000000000442b400000000000442b480000000000442b5000000"
     "00000442b580000000000442b600000000000442b680000000000442b700000000000442b780000000000442"
     "b800000000000442b880000000000442b900000000000442b980000000000442ba00000000000442ba800000"
     "00000442bb00000000000442bb80000000000442bc00000000000442bc80000000000442bd00000000000442"
     "bd80000000000442be00000000000442be80000000000442bf00000000000442bf80000000000442c0000000"
     "00000442c080000000000442c100000000000442c180000000000442c200000000000442c280000000000442"
     "c300000000000442c380000000000442c400000000000442c480000000000442c500000000000442c5800000"
     "00000442c600000000000442c680000000000442c700000000000442c780000000000442c800000000000442"
     "c880000000000442c900000000000442c980000000000442ca00000000000442ca80000000000442cb000000"
     "00000442cb80000000000442cc00000000000442cc80000000000442cd00000000000442cd80000000000442"
     "ce00000000000442ce80000000000442cf00000000000442cf80000000000442d000000000000442d0800000"
     "00000442d100000000000442d180000000000442d200000000000442d280000000000442d300000000000442"
     "d380000000000442d400000000000442d480000000000442d500000000000442d580000000000442d6000000"
     "00000442d680000000000442d700000000000442d780000000000442d800000000000442d880000000000442"
     "d900000000000442d980000000000442da00000000000442da80000000000442db00000000000442db800000"
     "00000442dc00000000000442dc80000000000442dd00000000000442dd80000000000442de00000000000442"
     "de80000000000442df00000000000442df80000000000442e000000000000442e080000000000442e1000000"
     "00000442e180000000000442e200000000000442e280000000000442e300000000000442e380000000000442"
     "e400000000000442e480000000000442e500000000000442e580000000000442e600000000000442e6800000"
     "00000442e700000000000442e780000000000442e800000000000442e880000000000442e900000000000442"
     "e980000000000442ea00000000000442ea80000000000442eb00000000000442eb80000000000442ec000000"
     "00000442ec80000000000442ed00000000000442ed80000000000442ee00000000000442ee80000000000442"
     "ef00000000000442ef80000000000442f000000000000442f080000000000442f100000000000442f1800000"
     "00000442f200000000000442f280000000000442f300000000000442f380000000000442f400000000000442"
     "f480000000000442f500000000000442f580000000000442f600000000000442f680000000000442f7000000"
     "00000442f780000000000442f800000000000442f880000000000442f900000000000442f980000000000442"
     "fa00000000000442fa80000000000442fb00000000000442fb80000000000442fc00000000000442fc800000"
     "00000442fd00000000000442fd80000000000442fe00000000000442fe80000000000442ff00000000000442"
     "ff8000000000044300000000000004430040000000000443008000000000044300c000000000044301000000"
     "000004430140000000000443018000000000044301c000000000044302000000000004430240000000000443"
     "028000000000044302c000000000044303000000000004430340000000000443038000000000044303c00000"
     "0000044304000000000004430440000000000443048000000000044304c00000000004430500000000000443"
     "0540000000000443058000000000044305c00000000004430600000000000443064000000000044306800000"
     "0000044306c000000000044307000000000004430740000000000443078000000000044307c0000000000443"
     "08000000000004430840000000000443088000000000044308c0000000000443090000000000044309400000"
     "00000443098000000000044309c00000000004430a000000000004430a400000000004430a80000000000443"
     "0ac00000000004430b000000000004430b400000000004430b800000000004430bc000620000000770656e64"
     "696e676200000004fffffff9"},
    {"0/1545460", 731, "430000000000015454300000000001545460000303ebc341b71a"},  // C
    {"0/1545460", 732, "420000000001545528000303ebc341b7ad000002dc"},  // B
    {"0/1545460", 732,  // I, 127 bytes
     "490000400e4e0006620000000800000000000000036200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "0000036f6464620000003c0000000100000000000002bc0000000500000001000000047fc00000000000047f"
     "80000000000004ff800000000000048000000000000004000116c262000000066661696c65646e"},
    {"0/1545558", 732, "430000000000015455280000000001545558000303ebc341b7ad"},  // C
    {"0/1545590", 733, "420000000001545610000303ebc341b8f7000002dd"},  // B
    {"0/1545590", 733,  // U, 74 bytes
     "550000400e4e0006620000000800000000000000026200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "000003626967756200000009636f6d706c657465646200000004fffffff9"},
    {"0/1545640", 733, "430000000000015456100000000001545640000303ebc341b8f7"},  // C
    {"0/1545640", 734, "420000000001545728000303ebc341b93a000002de"},  // B
    {"0/1545640", 734,  // U, 160 bytes
     "550000400e4b0006620000000800000000000000016e6e6e6e6e4e0006620000000800000000000000146200"
     "000010a0eebc999c0b4ef8bb6d6bb9bd380a116200000016746578742d656d62656464696e672d332d736d61"
     "6c6c620000002c0000000100000000000002bc0000000300000001000000043f800000000000044020000000"
     "000004c0400000620000000770656e64696e6762000000040000002a"},
    {"0/1545758", 734, "430000000000015457280000000001545758000303ebc341b93a"},  // C
    {"0/1545758", 735, "4200000000015457a0000303ebc341b965000002df"},  // B
    {"0/1545758", 735, "440000400e4b0006620000000800000000000000146e6e6e6e6e"},  // D
    {"0/15457D0", 735, "430000000000015457a000000000015457d0000303ebc341b965"},  // C
    {"0/1545988", 737, "420000000001545a70000303ebc341ba2b000002e1"},  // B
    {"0/1545988", 737, "59000040017075626c696300656d62656464696e675f73746174757300"},  // Y
    {"0/1545988", 737,  // R, 114 bytes
     "520000400e7075626c696300656d62656464696e67006600060169640000000014ffffffff01656e74697479"
     "5f69640000000b86ffffffff016d6f64656c0000000019ffffffff01766563746f7200000003fdffffffff01"
     "7374617475730000004001ffffffff016e0000000017ffffffff"},
    {"0/1545988", 737,  // U, 260 bytes
     "550000400e4f0006620000000800000000000000036200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "0000036f6464620000003c0000000100000000000002bc0000000500000001000000047fc00000000000047f"
     "80000000000004ff800000000000048000000000000004000116c262000000066661696c65646e4e00066200"
     "00000800000000000000036200000010a0eebc999c0b4ef8bb6d6bb9bd380a1162000000036f646462000000"
     "3c0000000100000000000002bc0000000500000001000000047fc00000000000047f80000000000004ff8000"
     "00000000048000000000000004000116c26200000009636f6d706c65746564620000000400000005"},
    {"0/1545AA0", 737, "43000000000001545a700000000001545aa0000303ebc341ba2b"},  // C
    {"0/1545AA0", 738, "420000000001545b30000303ebc341ba48000002e2"},  // B
    {"0/1545AA0", 738,  // D, 138 bytes
     "440000400e4f0006620000000800000000000000036200000010a0eebc999c0b4ef8bb6d6bb9bd380a116200"
     "0000036f6464620000003c0000000100000000000002bc0000000500000001000000047fc00000000000047f"
     "80000000000004ff800000000000048000000000000004000116c26200000009636f6d706c65746564620000"
     "000400000005"},
    {"0/1545B60", 738, "43000000000001545b300000000001545b60000303ebc341ba48"},  // C
    {"0/1547230", 739, "420000000001547260000303ebc341bd1f000002e3"},  // B
    {"0/1547230", 739,  // R, 112 bytes
     "52000040077075626c696300656e74697479006400050169640000000b86ffffffff0074656e616e745f6964"
     "0000000b86ffffffff00656e746974795f747970650000000019ffffffff0076616c69645f746f00000004a0"
     "ffffffff0064656c657465645f617400000004a0ffffffff"},
    {"0/1547230", 739, "59000040017075626c696300656d62656464696e675f73746174757300"},  // Y
    {"0/1547230", 739,  // R, 114 bytes
     "520000400e7075626c696300656d62656464696e67006600060169640000000014ffffffff01656e74697479"
     "5f69640000000b86ffffffff016d6f64656c0000000019ffffffff01766563746f7200000003fdffffffff01"
     "7374617475730000004001ffffffff016e0000000017ffffffff"},
    {"0/1547230", 739, "540000000202000040070000400e"},  // T
    {"0/1547500", 739, "430000000000015472600000000001547500000303ebc341bd1f"},  // C
    {"0/1547548", 740, "420000000001547650000303ebc341bfba000002e4"},  // B
    {"0/1547548", 740, "4d0100000000015475487665636d6972726f722e74657374000000000568656c6c6f"},  // M
    {"0/1547548", 740,  // R, 112 bytes
     "52000040077075626c696300656e74697479006400050169640000000b86ffffffff0074656e616e745f6964"
     "0000000b86ffffffff00656e746974795f747970650000000019ffffffff0076616c69645f746f00000004a0"
     "ffffffff0064656c657465645f617400000004a0ffffffff"},
    {"0/1547548", 740,  // I, 64 bytes
     "49000040074e0005620000001000000000000000000000000000000001620000001011111111222233334444"
     "5555555555556200000007636f6e746578746e6e"},
    {"0/1547680", 740, "430000000000015476500000000001547680000303ebc341bfba"},  // C
    {"0/15476C8", 0, "4d0000000000015476c87665636d6972726f722e686200000000053132333435"},  // M
    {"0/15476C8", 741, "4200000000015477780002b0d5d4e94000000002e5"},  // B
    {"0/15476C8", 741, "4f0000000000abcdef676f6c64656e5f6f726967696e00"},  // O
    {"0/15476C8", 741,  // I, 65 bytes
     "49000040074e0005620000001000000000000000000000000000000002620000001011111111222233334444"
     "5555555555556200000008776f726b666c6f776e6e"},
    {"0/15477C0", 741, "4300000000000154777800000000015477c00002b0d5d4e94000"},  // C
};

// binary 'false': the first transaction and the insert of row 3.
const GoldenFrame kTextStream[] = {
    {"0/1544628", 730, "420000000001544870000303ebc341b112000002da"},  // B
    {"0/1544628", 730,  // R, 112 bytes
     "52000040077075626c696300656e74697479006400050169640000000b86ffffffff0074656e616e745f6964"
     "0000000b86ffffffff00656e746974795f747970650000000019ffffffff0076616c69645f746f00000004a0"
     "ffffffff0064656c657465645f617400000004a0ffffffff"},
    {"0/1544628", 730,  // I, 138 bytes
     "49000040074e0005740000002461306565626339392d396330622d346566382d626236642d36626239626433"
     "3830613131740000002431313131313131312d323232322d333333332d343434342d35353535353535353535"
     "3535740000000874656d706c6174656e740000001d323032342d30352d30362030373a30383a30392e313233"
     "3435362b3030"},
    {"0/1544740", 730, "59000040017075626c696300656d62656464696e675f73746174757300"},  // Y
    {"0/1544740", 730,  // R, 114 bytes
     "520000400e7075626c696300656d62656464696e67006400060169640000000014ffffffff00656e74697479"
     "5f69640000000b86ffffffff006d6f64656c0000000019ffffffff00766563746f7200000003fdffffffff00"
     "7374617475730000004001ffffffff006e0000000017ffffffff"},
    {"0/1544740", 730,  // I, 116 bytes
     "490000400e4e0006740000000131740000002461306565626339392d396330622d346566382d626236642d36"
     "62623962643338306131317400000016746578742d656d62656464696e672d332d736d616c6c740000000a7b"
     "312c322e352c2d337d740000000770656e64696e6774000000023432"},
    {"0/15448A0", 730, "4300000000000154487000000000015448a0000303ebc341b112"},  // C
    {"0/1545460", 732, "420000000001545528000303ebc341b7ad000002dc"},  // B
    {"0/1545460", 732,  // I, 113 bytes
     "490000400e4e0006740000000133740000002461306565626339392d396330622d346566382d626236642d36"
     "626239626433383061313174000000036f646474000000217b4e614e2c496e66696e6974792c2d496e66696e"
     "6974792c2d302c31652d34307d74000000066661696c65646e"},
    {"0/1545558", 732, "430000000000015455280000000001545558000303ebc341b7ad"},  // C
};


constexpr uint32_t kEnumOid = 16385;
constexpr uint32_t kEntityOid = 16391;
constexpr uint32_t kEmbeddingOid = 16398;
constexpr uint32_t kUuidTypeOid = 2950, kTextTypeOid = 25, kTimestamptzOid = 1184,
                   kInt8Oid = 20, kInt4Oid = 23;
// 2024-05-06 07:08:09.123456 UTC in microseconds since 2000-01-01 UTC.
constexpr int64_t kDeletedAtMicros = (1714979289LL - 946684800LL) * 1000000 + 123456;

// The decoded frames of one captured stream. Payloads are built once and never moved, since
// decoded messages borrow from them.
class Stream {
 public:
  template <size_t N>
  explicit Stream(const GoldenFrame (&frames)[N]) {
    for (const GoldenFrame& f : frames) payloads_.push_back(testing::FromHex(f.hex));
    messages_.resize(N);
    for (size_t i = 0; i < N; ++i) {
      frames_.push_back(&frames[i]);
      statuses_.push_back(DecodePgOutput(payloads_[i], &messages_[i]));
    }
  }
  Stream(const Stream&) = delete;  // messages borrow from payloads_
  Stream& operator=(const Stream&) = delete;

  size_t size() const { return frames_.size(); }
  const GoldenFrame& frame(size_t i) const { return *frames_[i]; }
  const std::string& payload(size_t i) const { return payloads_[i]; }
  const Status& status(size_t i) const { return statuses_[i]; }
  template <typename T>
  const T& Get(size_t i) const {
    EXPECT_TRUE(statuses_[i].ok()) << i << ": " << statuses_[i].ToString();
    EXPECT_TRUE(std::holds_alternative<T>(messages_[i])) << "frame " << i;
    static const T kEmpty{};
    return std::holds_alternative<T>(messages_[i]) ? std::get<T>(messages_[i]) : kEmpty;
  }
  const PgOutputMessage& message(size_t i) const { return messages_[i]; }

 private:
  std::vector<const GoldenFrame*> frames_;
  std::vector<std::string> payloads_;
  std::vector<PgOutputMessage> messages_;
  std::vector<Status> statuses_;
};

// The variant alternative a type byte stands for, from protocol.sgml.
size_t AlternativeFor(char type) {
  switch (type) {
    case 'B': return PgOutputMessage(Begin{}).index();
    case 'C': return PgOutputMessage(Commit{}).index();
    case 'R': return PgOutputMessage(Relation{}).index();
    case 'Y': return PgOutputMessage(Type{}).index();
    case 'I': return PgOutputMessage(Insert{}).index();
    case 'U': return PgOutputMessage(Update{}).index();
    case 'D': return PgOutputMessage(Delete{}).index();
    case 'T': return PgOutputMessage(Truncate{}).index();
    case 'O': return PgOutputMessage(Origin{}).index();
    case 'M': return PgOutputMessage(LogicalMessage{}).index();
  }
  return std::variant_npos;
}

int64_t Int(const ColumnValue& v) {
  int64_t out = 0;
  Status s = DecodeInteger(v, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::string Text(const ColumnValue& v) {
  std::string out;
  Status s = DecodeText(v, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::string UuidText(const ColumnValue& v) {
  Uuid u;
  Status s = DecodeUuid(v, &u);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return u.ToString();
}

std::vector<float> Vector(const ColumnValue& v) {
  std::vector<float> out;
  Status s = DecodeVector(v, VectorType::kFloat4Array, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// '{NaN,Infinity,-Infinity,-0,1e-40}'
void ExpectOddVector(const std::vector<float>& v) {
  ASSERT_EQ(v.size(), 5u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], INFINITY);
  EXPECT_EQ(v[2], -INFINITY);
  EXPECT_EQ(v[3], 0.0f);
  EXPECT_TRUE(std::signbit(v[3]));
  EXPECT_EQ(v[4], 1e-40f);
}

void ExpectKinds(const Tuple& t, const std::string& kinds) {
  ASSERT_EQ(t.size(), kinds.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const char k = t[i].kind == ColumnValue::Kind::kNull        ? 'n'
                   : t[i].kind == ColumnValue::Kind::kUnchanged ? 'u'
                   : t[i].kind == ColumnValue::Kind::kText      ? 't'
                                                                : 'b';
    EXPECT_EQ(k, kinds[i]) << "column " << i;
  }
}

TEST(PgOutputGolden, EveryFrameDecodesAsItsTypeByteSays) {
  const Stream binary(kBinaryStream), text(kTextStream);
  for (const Stream* stream : {&binary, &text}) {
    const Stream& s = *stream;
    for (size_t i = 0; i < s.size(); ++i) {
      ASSERT_TRUE(s.status(i).ok()) << i << ": " << s.status(i).ToString();
      EXPECT_EQ(s.message(i).index(), AlternativeFor(s.payload(i)[0])) << "frame " << i;
    }
  }
}

TEST(PgOutputGolden, TransactionsAreBracketedWithConsistentLsns) {
  const Stream s(kBinaryStream);
  int transactions = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!std::holds_alternative<Begin>(s.message(i))) continue;
    const Begin& b = s.Get<Begin>(i);
    EXPECT_EQ(b.xid, s.frame(i).xid);
    size_t c = i + 1;
    while (c < s.size() && !std::holds_alternative<Commit>(s.message(c))) {
      EXPECT_FALSE(std::holds_alternative<Begin>(s.message(c))) << "nested Begin at " << c;
      ++c;
    }
    ASSERT_LT(c, s.size()) << "Begin at " << i << " has no Commit";
    const Commit& commit = s.Get<Commit>(c);
    const std::optional<Lsn> end_lsn = ParseLsn(s.frame(c).lsn);
    ASSERT_TRUE(end_lsn);
    EXPECT_EQ(commit.end_lsn, *end_lsn);
    EXPECT_EQ(commit.commit_lsn, b.final_lsn);
    EXPECT_LT(commit.commit_lsn, commit.end_lsn);
    EXPECT_EQ(commit.commit_time_us, b.commit_time_us);
    EXPECT_EQ(commit.flags, 0);
    // Commit timestamps of this capture lie after 2020 and before 2100.
    EXPECT_GT(b.commit_time_us, int64_t{631152000} * 1000000);
    EXPECT_LT(b.commit_time_us, int64_t{3155760000} * 1000000);
    ++transactions;
  }
  EXPECT_EQ(transactions, 11);
}

TEST(PgOutputGolden, SchemaMessages) {
  const Stream s(kBinaryStream);
  const Relation& entity = s.Get<Relation>(1);
  EXPECT_EQ(entity.oid, kEntityOid);
  EXPECT_EQ(entity.nspname, "public");
  EXPECT_EQ(entity.relname, "entity");
  EXPECT_EQ(entity.replica_identity, 'd');
  ASSERT_EQ(entity.columns.size(), 5u);
  const char* names[] = {"id", "tenant_id", "entity_type", "valid_to", "deleted_at"};
  const uint32_t types[] = {kUuidTypeOid, kUuidTypeOid, kTextTypeOid, kTimestamptzOid,
                            kTimestamptzOid};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(entity.columns[i].name, names[i]);
    EXPECT_EQ(entity.columns[i].type_oid, types[i]);
    EXPECT_EQ(entity.columns[i].type_modifier, -1);
    EXPECT_EQ(entity.columns[i].is_key, i == 0);
  }

  const Type& status_type = s.Get<Type>(3);
  EXPECT_EQ(status_type.oid, kEnumOid);
  EXPECT_EQ(status_type.nspname, "public");
  EXPECT_EQ(status_type.name, "embedding_status");

  const Relation& embedding = s.Get<Relation>(4);
  EXPECT_EQ(embedding.oid, kEmbeddingOid);
  EXPECT_EQ(embedding.relname, "embedding");
  ASSERT_EQ(embedding.columns.size(), 6u);
  EXPECT_EQ(embedding.columns[0].type_oid, kInt8Oid);
  EXPECT_EQ(embedding.columns[3].name, "vector");
  EXPECT_EQ(embedding.columns[3].type_oid, kFloat4ArrayOid);
  EXPECT_EQ(embedding.columns[4].type_oid, kEnumOid);
  EXPECT_EQ(embedding.columns[5].type_oid, kInt4Oid);

  // After REPLICA IDENTITY FULL the relation is sent again, every column part of the identity.
  const Relation& full = s.Get<Relation>(24);
  EXPECT_EQ(full.oid, kEmbeddingOid);
  EXPECT_EQ(full.replica_identity, 'f');
  for (const RelationColumn& c : full.columns) EXPECT_TRUE(c.is_key) << c.name;
}

TEST(PgOutputGolden, InsertsInBinary) {
  const Stream s(kBinaryStream);
  const Insert& entity = s.Get<Insert>(2);
  EXPECT_EQ(entity.relation_oid, kEntityOid);
  ExpectKinds(entity.new_tuple, "bbbnb");
  EXPECT_EQ(UuidText(entity.new_tuple[0]), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(UuidText(entity.new_tuple[1]), "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(Text(entity.new_tuple[2]), "template");
  EXPECT_EQ(Int(entity.new_tuple[4]), kDeletedAtMicros);  // timestamptz: int64 microseconds

  const Insert& small = s.Get<Insert>(5);
  EXPECT_EQ(small.relation_oid, kEmbeddingOid);
  ExpectKinds(small.new_tuple, "bbbbbb");
  EXPECT_EQ(Int(small.new_tuple[0]), 1);
  EXPECT_EQ(Text(small.new_tuple[2]), "text-embedding-3-small");
  EXPECT_EQ(Vector(small.new_tuple[3]), (std::vector<float>{1.0f, 2.5f, -3.0f}));
  EXPECT_EQ(Text(small.new_tuple[4]), "pending");  // enum_send: the label's text
  EXPECT_EQ(Int(small.new_tuple[5]), 42);

  const Insert& big = s.Get<Insert>(8);
  EXPECT_EQ(Int(big.new_tuple[0]), 2);
  EXPECT_EQ(Int(big.new_tuple[5]), -7);
  const std::vector<float> v = Vector(big.new_tuple[3]);
  ASSERT_EQ(v.size(), 600u);
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(v[i], static_cast<float>(i) * 0.25f - 10.0f) << i;
  }

  const Insert& odd = s.Get<Insert>(11);
  ExpectKinds(odd.new_tuple, "bbbbbn");
  ExpectOddVector(Vector(odd.new_tuple[3]));
  EXPECT_EQ(Text(odd.new_tuple[4]), "failed");
}

TEST(PgOutputGolden, UpdatesAndDeletes) {
  const Stream s(kBinaryStream);
  // Status-only update of a row whose vector is TOASTed: no old tuple, vector unchanged.
  const Update& status_only = s.Get<Update>(14);
  EXPECT_EQ(status_only.relation_oid, kEmbeddingOid);
  EXPECT_EQ(status_only.old_kind, 0);
  EXPECT_TRUE(status_only.old_tuple.empty());
  ExpectKinds(status_only.new_tuple, "bbbubb");
  EXPECT_EQ(Text(status_only.new_tuple[4]), "completed");

  // A key change sends the old key, every non-key column as 'n'.
  const Update& key_change = s.Get<Update>(17);
  EXPECT_EQ(key_change.old_kind, 'K');
  ExpectKinds(key_change.old_tuple, "bnnnnn");
  EXPECT_EQ(Int(key_change.old_tuple[0]), 1);
  ExpectKinds(key_change.new_tuple, "bbbbbb");
  EXPECT_EQ(Int(key_change.new_tuple[0]), 20);
  EXPECT_EQ(Vector(key_change.new_tuple[3]), (std::vector<float>{1.0f, 2.5f, -3.0f}));

  const Delete& key_delete = s.Get<Delete>(20);
  EXPECT_EQ(key_delete.old_kind, 'K');
  ExpectKinds(key_delete.old_tuple, "bnnnnn");
  EXPECT_EQ(Int(key_delete.old_tuple[0]), 20);

  // REPLICA IDENTITY FULL: the whole old row.
  const Update& full = s.Get<Update>(25);
  EXPECT_EQ(full.old_kind, 'O');
  ExpectKinds(full.old_tuple, "bbbbbn");
  ExpectOddVector(Vector(full.old_tuple[3]));
  EXPECT_EQ(Text(full.old_tuple[4]), "failed");
  ExpectKinds(full.new_tuple, "bbbbbb");
  EXPECT_EQ(Text(full.new_tuple[4]), "completed");
  EXPECT_EQ(Int(full.new_tuple[5]), 5);

  const Delete& full_delete = s.Get<Delete>(28);
  EXPECT_EQ(full_delete.old_kind, 'O');
  ExpectKinds(full_delete.old_tuple, "bbbbbb");
  EXPECT_EQ(Int(full_delete.old_tuple[0]), 3);
  EXPECT_EQ(Int(full_delete.old_tuple[5]), 5);
}

TEST(PgOutputGolden, TruncateMessagesAndOrigin) {
  const Stream s(kBinaryStream);
  const Truncate& t = s.Get<Truncate>(34);
  EXPECT_EQ(t.options, 2);  // RESTART IDENTITY
  EXPECT_EQ(std::set<uint32_t>(t.relation_oids.begin(), t.relation_oids.end()),
            (std::set<uint32_t>{kEntityOid, kEmbeddingOid}));

  const LogicalMessage& transactional = s.Get<LogicalMessage>(37);
  EXPECT_TRUE(transactional.transactional);
  EXPECT_EQ(transactional.prefix, "vecmirror.test");
  EXPECT_EQ(transactional.content, "hello");

  const LogicalMessage& heartbeat = s.Get<LogicalMessage>(41);
  EXPECT_EQ(s.frame(41).xid, 0u);
  EXPECT_FALSE(heartbeat.transactional);
  EXPECT_EQ(heartbeat.prefix, "vecmirror.hb");
  EXPECT_EQ(heartbeat.content, "12345");
  const std::optional<Lsn> frame_lsn = ParseLsn(s.frame(41).lsn);
  ASSERT_TRUE(frame_lsn);
  EXPECT_LE(heartbeat.lsn, *frame_lsn);
  EXPECT_GT(heartbeat.lsn, 0u);

  const Origin& origin = s.Get<Origin>(43);
  EXPECT_EQ(origin.name, "golden_origin");
  EXPECT_EQ(origin.commit_lsn, 0xABCDEFu);
  const Insert& after_origin = s.Get<Insert>(44);
  EXPECT_EQ(Text(after_origin.new_tuple[2]), "workflow");
}

TEST(PgOutputGolden, TextModeColumns) {
  const Stream s(kTextStream);
  const Insert& entity = s.Get<Insert>(2);
  ExpectKinds(entity.new_tuple, "tttnt");
  EXPECT_EQ(UuidText(entity.new_tuple[0]), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(Text(entity.new_tuple[2]), "template");
  EXPECT_EQ(Text(entity.new_tuple[4]), "2024-05-06 07:08:09.123456+00");

  const Insert& small = s.Get<Insert>(5);
  ExpectKinds(small.new_tuple, "tttttt");
  EXPECT_EQ(Int(small.new_tuple[0]), 1);
  EXPECT_EQ(Text(small.new_tuple[3]), "{1,2.5,-3}");
  EXPECT_EQ(Vector(small.new_tuple[3]), (std::vector<float>{1.0f, 2.5f, -3.0f}));
  EXPECT_EQ(Int(small.new_tuple[5]), 42);

  const Insert& odd = s.Get<Insert>(8);
  ExpectKinds(odd.new_tuple, "tttttn");
  ExpectOddVector(Vector(odd.new_tuple[3]));
}

// Real messages, cut anywhere, must fail cleanly.
TEST(PgOutputGolden, EveryStrictPrefixIsAnError) {
  const Stream s(kBinaryStream);
  for (size_t i = 0; i < s.size(); ++i) {
    const std::string& payload = s.payload(i);
    for (size_t n = 0; n < payload.size(); ++n) {
      PgOutputMessage out;
      EXPECT_EQ(DecodePgOutput(std::string_view(payload).substr(0, n), &out).code(),
                Status::Code::kCorruption)
          << "frame " << i << " prefix " << n;
    }
  }
}

}  // namespace
}  // namespace vecmirror::pg
