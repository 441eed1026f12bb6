-- What Japanese shoppers look for beyond a product's name, and product photos uploaded by staff.
-- All of it is public catalog data: nothing here is personal.

-- 品番, food labelling (食品表示: 原材料名, アレルゲン, 内容量, 賞味期限, 保存方法), each in
-- Japanese and (optionally) English; allergens as codes of the eight 特定原材料 or 'none'.
ALTER TABLE products ADD COLUMN model_number TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN ingredients_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN ingredients_en TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN allergens TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN allergens_other_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN allergens_other_en TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN net_contents_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN net_contents_en TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN best_before_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN best_before_en TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN storage_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN storage_en TEXT NOT NULL DEFAULT '';
-- The file name of the product's first uploaded image (kept with the images, in their
-- transactions), shown instead of the bundled illustration; NULL: the illustration.
ALTER TABLE products ADD COLUMN photo TEXT;

-- 商品仕様: label and value rows (容量 1.0L, 消費電力 1250W), in order.
CREATE TABLE product_specs (
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    label_ja    TEXT NOT NULL,
    label_en    TEXT NOT NULL,
    value_ja    TEXT NOT NULL,
    value_en    TEXT NOT NULL,
    PRIMARY KEY (product_id, position)
) STRICT, WITHOUT ROWID;

-- Product images, only as the shop re-encoded them (never the uploaded file), served as
-- /images/p/{file} where file is the SHA-256 of the bytes in hex and the extension.
CREATE TABLE product_images (
    id            INTEGER PRIMARY KEY NOT NULL,
    product_id    INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    content_type  TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    bytes         BLOB NOT NULL,
    sha256        BLOB NOT NULL,
    file          TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    alt_ja        TEXT NOT NULL DEFAULT '',
    alt_en        TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (product_id, sha256)
) STRICT;
CREATE INDEX product_images_product ON product_images (product_id, position);
CREATE INDEX product_images_file ON product_images (file);
