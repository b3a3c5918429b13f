-- Identity checks with attempt limits, one record per identity, names compared as people say them, the facts a
-- read-back needs, and bookings and shift changes of one doctor ordered by a lock.
-- depends: 0005_call_functions
--
-- The 0005 functions stay for a previous agent version (expand/contract); this version calls the new ones.

-- How a name is compared: typographic apostrophes and hyphens as plain ones, NFKC (so a decomposed "Zoë" or a
-- full-width letter is the same text), runs of spaces as one, then each letter's Unicode simple lowercase
-- mapping. The mapping is spelled out (every character whose lowercase is another single character, Unicode 14,
-- and İ to i) so it does not depend on the database's locale: lower() is ASCII-only under the C locale that an
-- embedded server may run with. agent.hospital.name_key is the same function in Python; a test holds them equal.
-- Letters of other scripts that look alike (Cyrillic а, Latin a) stay different letters.
-- PL/pgSQL, so the expression is planned once per connection: inlined as SQL into a statement, it would be
-- planned (and its constant parts evaluated) again at every call.
CREATE FUNCTION patient_name_key(full_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    RETURN CASE
    -- Printable ASCII (most names) is NFKC already, and lower() under the C collation folds ASCII letters only:
    -- the general case's result, at a sliver of its cost.
    WHEN full_name ~ '^[ -~]*$' THEN
        lower(btrim(regexp_replace(translate(full_name, '`', ''''), ' +', ' ', 'g'), ' ') COLLATE "C")
    ELSE
        normalize(
            translate(
                btrim(regexp_replace(normalize(translate(full_name, '’‘ʼ′`´‐‑', '''''''''''''--'), NFKC),
                                     '[ \t\n\r\f\v]+', ' ', 'g'), ' '),
                    ('ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞĀĂĄĆ'
                || 'ĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮĲĴĶĹĻĽĿŁŃŅŇŊŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽƁƂ'
                || 'ƄƆƇƉƊƋƎƏƐƑƓƔƖƗƘƜƝƟƠƢƤƦƧƩƬƮƯƱƲƳƵƷƸƼǄǅǇǈǊǋǍǏǑǓǕǗǙǛǞǠǢǤǦǨǪǬǮǱǲǴ'
                || 'ǶǷǸǺǼǾȀȂȄȆȈȊȌȎȐȒȔȖȘȚȜȞȠȢȤȦȨȪȬȮȰȲȺȻȽȾɁɃɄɅɆɈɊɌɎͰͲͶͿΆΈΉΊΌΎΏΑΒΓΔ'
                || 'ΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫϏϘϚϜϞϠϢϤϦϨϪϬϮϴϷϹϺϽϾϿЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБ'
                || 'ВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢ'
                || 'ҤҦҨҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶӸӺӼӾԀԂԄԆԈԊԌԎԐԒԔԖԘԚ'
                || 'ԜԞԠԢԤԦԨԪԬԮԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖႠႡႢႣႤႥႦႧႨႩႪႫ'
                || 'ႬႭႮႯႰႱႲႳႴႵႶႷႸႹႺႻႼႽႾႿჀჁჂჃჄჅჇჍᎠᎡᎢᎣᎤᎥᎦᎧᎨᎩᎪᎫᎬᎭᎮᎯᎰᎱᎲᎳᎴᎵᎶᎷᎸᎹᎺᎻᎼᎽᎾᎿ'
                || 'ᏀᏁᏂᏃᏄᏅᏆᏇᏈᏉᏊᏋᏌᏍᏎᏏᏐᏑᏒᏓᏔᏕᏖᏗᏘᏙᏚᏛᏜᏝᏞᏟᏠᏡᏢᏣᏤᏥᏦᏧᏨᏩᏪᏫᏬᏭᏮᏯᏰᏱᏲᏳᏴᏵᲐᲑᲒᲓᲔᲕ'
                || 'ᲖᲗᲘᲙᲚᲛᲜᲝᲞᲟᲠᲡᲢᲣᲤᲥᲦᲧᲨᲩᲪᲫᲬᲭᲮᲯᲰᲱᲲᲳᲴᲵᲶᲷᲸᲹᲺᲽᲾᲿḀḂḄḆḈḊḌḎḐḒḔḖḘḚḜḞḠḢḤḦ'
                || 'ḨḪḬḮḰḲḴḶḸḺḼḾṀṂṄṆṈṊṌṎṐṒṔṖṘṚṜṞṠṢṤṦṨṪṬṮṰṲṴṶṸṺṼṾẀẂẄẆẈẊẌẎẐẒẔẞẠẢẤẦ'
                || 'ẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸỺỼỾἈἉἊἋἌἍἎἏἘἙἚἛἜἝἨἩ'
                || 'ἪἫἬἭἮἯἸἹἺἻἼἽἾἿὈὉὊὋὌὍὙὛὝὟὨὩὪὫὬὭὮὯᾈᾉᾊᾋᾌᾍᾎᾏᾘᾙᾚᾛᾜᾝᾞᾟᾨᾩᾪᾫᾬᾭᾮᾯᾸᾹᾺΆ'
                || 'ᾼῈΈῊΉῌῘῙῚΊῨῩῪΎῬῸΌῺΏῼΩKÅℲⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩⅪⅫⅬⅭⅮⅯↃⒶⒷⒸⒹⒺⒻⒼⒽⒾⒿⓀⓁⓂⓃⓄⓅⓆⓇⓈ'
                || 'ⓉⓊⓋⓌⓍⓎⓏⰀⰁⰂⰃⰄⰅⰆⰇⰈⰉⰊⰋⰌⰍⰎⰏⰐⰑⰒⰓⰔⰕⰖⰗⰘⰙⰚⰛⰜⰝⰞⰟⰠⰡⰢⰣⰤⰥⰦⰧⰨⰩⰪⰫⰬⰭⰮⰯⱠⱢⱣⱤⱧ'
                || 'ⱩⱫⱭⱮⱯⱰⱲⱵⱾⱿⲀⲂⲄⲆⲈⲊⲌⲎⲐⲒⲔⲖⲘⲚⲜⲞⲠⲢⲤⲦⲨⲪⲬⲮⲰⲲⲴⲶⲸⲺⲼⲾⳀⳂⳄⳆⳈⳊⳌⳎⳐⳒⳔⳖⳘⳚⳜⳞⳠⳢ'
                || 'ⳫⳭⳲꙀꙂꙄꙆꙈꙊꙌꙎꙐꙒꙔꙖꙘꙚꙜꙞꙠꙢꙤꙦꙨꙪꙬꚀꚂꚄꚆꚈꚊꚌꚎꚐꚒꚔꚖꚘꚚꜢꜤꜦꜨꜪꜬꜮꜲꜴꜶꜸꜺꜼꜾꝀꝂꝄꝆꝈꝊ'
                || 'ꝌꝎꝐꝒꝔꝖꝘꝚꝜꝞꝠꝢꝤꝦꝨꝪꝬꝮꝹꝻꝽꝾꞀꞂꞄꞆꞋꞍꞐꞒꞖꞘꞚꞜꞞꞠꞢꞤꞦꞨꞪꞫꞬꞭꞮꞰꞱꞲꞳꞴꞶꞸꞺꞼꞾꟀꟂꟄꟅꟆ'
                || 'ꟇꟉꟐꟖꟘꟵＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ𐐀𐐁𐐂𐐃𐐄𐐅𐐆𐐇𐐈𐐉𐐊𐐋𐐌𐐍𐐎𐐏𐐐𐐑𐐒𐐓𐐔𐐕𐐖𐐗𐐘𐐙𐐚𐐛'
                || '𐐜𐐝𐐞𐐟𐐠𐐡𐐢𐐣𐐤𐐥𐐦𐐧𐒰𐒱𐒲𐒳𐒴𐒵𐒶𐒷𐒸𐒹𐒺𐒻𐒼𐒽𐒾𐒿𐓀𐓁𐓂𐓃𐓄𐓅𐓆𐓇𐓈𐓉𐓊𐓋𐓌𐓍𐓎𐓏𐓐𐓑𐓒𐓓𐕰𐕱𐕲𐕳𐕴𐕵𐕶𐕷𐕸𐕹𐕺𐕼'
                || '𐕽𐕾𐕿𐖀𐖁𐖂𐖃𐖄𐖅𐖆𐖇𐖈𐖉𐖊𐖌𐖍𐖎𐖏𐖐𐖑𐖒𐖔𐖕𐲀𐲁𐲂𐲃𐲄𐲅𐲆𐲇𐲈𐲉𐲊𐲋𐲌𐲍𐲎𐲏𐲐𐲑𐲒𐲓𐲔𐲕𐲖𐲗𐲘𐲙𐲚𐲛𐲜𐲝𐲞𐲟𐲠𐲡𐲢𐲣𐲤'
                || '𐲥𐲦𐲧𐲨𐲩𐲪𐲫𐲬𐲭𐲮𐲯𐲰𐲱𐲲𑢠𑢡𑢢𑢣𑢤𑢥𑢦𑢧𑢨𑢩𑢪𑢫𑢬𑢭𑢮𑢯𑢰𑢱𑢲𑢳𑢴𑢵𑢶𑢷𑢸𑢹𑢺𑢻𑢼𑢽𑢾𑢿𖹀𖹁𖹂𖹃𖹄𖹅𖹆𖹇𖹈𖹉𖹊𖹋𖹌𖹍'
                || '𖹎𖹏𖹐𖹑𖹒𖹓𖹔𖹕𖹖𖹗𖹘𖹙𖹚𖹛𖹜𖹝𖹞𖹟𞤀𞤁𞤂𞤃𞤄𞤅𞤆𞤇𞤈𞤉𞤊𞤋𞤌𞤍𞤎𞤏𞤐𞤑𞤒𞤓𞤔𞤕𞤖𞤗𞤘𞤙𞤚𞤛𞤜𞤝𞤞𞤟𞤠𞤡İ'),
                    ('abcdefghijklmnopqrstuvwxyzàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþāăąć'
                || 'ĉċčďđēĕėęěĝğġģĥħĩīĭįĳĵķĺļľŀłńņňŋōŏőœŕŗřśŝşšţťŧũūŭůűųŵŷÿźżžɓƃ'
                || 'ƅɔƈɖɗƌǝəɛƒɠɣɩɨƙɯɲɵơƣƥʀƨʃƭʈưʊʋƴƶʒƹƽǆǆǉǉǌǌǎǐǒǔǖǘǚǜǟǡǣǥǧǩǫǭǯǳǳǵ'
                || 'ƕƿǹǻǽǿȁȃȅȇȉȋȍȏȑȓȕȗșțȝȟƞȣȥȧȩȫȭȯȱȳⱥȼƚⱦɂƀʉʌɇɉɋɍɏͱͳͷϳάέήίόύώαβγδ'
                || 'εζηθικλμνξοπρστυφχψωϊϋϗϙϛϝϟϡϣϥϧϩϫϭϯθϸϲϻͻͼͽѐёђѓєѕіїјљњћќѝўџаб'
                || 'вгдежзийклмнопрстуфхцчшщъыьэюяѡѣѥѧѩѫѭѯѱѳѵѷѹѻѽѿҁҋҍҏґғҕҗҙқҝҟҡң'
                || 'ҥҧҩҫҭүұҳҵҷҹһҽҿӏӂӄӆӈӊӌӎӑӓӕӗәӛӝӟӡӣӥӧөӫӭӯӱӳӵӷӹӻӽӿԁԃԅԇԉԋԍԏԑԓԕԗԙԛ'
                || 'ԝԟԡԣԥԧԩԫԭԯաբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆⴀⴁⴂⴃⴄⴅⴆⴇⴈⴉⴊⴋ'
                || 'ⴌⴍⴎⴏⴐⴑⴒⴓⴔⴕⴖⴗⴘⴙⴚⴛⴜⴝⴞⴟⴠⴡⴢⴣⴤⴥⴧⴭꭰꭱꭲꭳꭴꭵꭶꭷꭸꭹꭺꭻꭼꭽꭾꭿꮀꮁꮂꮃꮄꮅꮆꮇꮈꮉꮊꮋꮌꮍꮎꮏ'
                || 'ꮐꮑꮒꮓꮔꮕꮖꮗꮘꮙꮚꮛꮜꮝꮞꮟꮠꮡꮢꮣꮤꮥꮦꮧꮨꮩꮪꮫꮬꮭꮮꮯꮰꮱꮲꮳꮴꮵꮶꮷꮸꮹꮺꮻꮼꮽꮾꮿᏸᏹᏺᏻᏼᏽაბგდევ'
                || 'ზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰჱჲჳჴჵჶჷჸჹჺჽჾჿḁḃḅḇḉḋḍḏḑḓḕḗḙḛḝḟḡḣḥḧ'
                || 'ḩḫḭḯḱḳḵḷḹḻḽḿṁṃṅṇṉṋṍṏṑṓṕṗṙṛṝṟṡṣṥṧṩṫṭṯṱṳṵṷṹṻṽṿẁẃẅẇẉẋẍẏẑẓẕßạảấầ'
                || 'ẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹỻỽỿἀἁἂἃἄἅἆἇἐἑἒἓἔἕἠἡ'
                || 'ἢἣἤἥἦἧἰἱἲἳἴἵἶἷὀὁὂὃὄὅὑὓὕὗὠὡὢὣὤὥὦὧᾀᾁᾂᾃᾄᾅᾆᾇᾐᾑᾒᾓᾔᾕᾖᾗᾠᾡᾢᾣᾤᾥᾦᾧᾰᾱὰά'
                || 'ᾳὲέὴήῃῐῑὶίῠῡὺύῥὸόὼώῳωkåⅎⅰⅱⅲⅳⅴⅵⅶⅷⅸⅹⅺⅻⅼⅽⅾⅿↄⓐⓑⓒⓓⓔⓕⓖⓗⓘⓙⓚⓛⓜⓝⓞⓟⓠⓡⓢ'
                || 'ⓣⓤⓥⓦⓧⓨⓩⰰⰱⰲⰳⰴⰵⰶⰷⰸⰹⰺⰻⰼⰽⰾⰿⱀⱁⱂⱃⱄⱅⱆⱇⱈⱉⱊⱋⱌⱍⱎⱏⱐⱑⱒⱓⱔⱕⱖⱗⱘⱙⱚⱛⱜⱝⱞⱟⱡɫᵽɽⱨ'
                || 'ⱪⱬɑɱɐɒⱳⱶȿɀⲁⲃⲅⲇⲉⲋⲍⲏⲑⲓⲕⲗⲙⲛⲝⲟⲡⲣⲥⲧⲩⲫⲭⲯⲱⲳⲵⲷⲹⲻⲽⲿⳁⳃⳅⳇⳉⳋⳍⳏⳑⳓⳕⳗⳙⳛⳝⳟⳡⳣ'
                || 'ⳬⳮⳳꙁꙃꙅꙇꙉꙋꙍꙏꙑꙓꙕꙗꙙꙛꙝꙟꙡꙣꙥꙧꙩꙫꙭꚁꚃꚅꚇꚉꚋꚍꚏꚑꚓꚕꚗꚙꚛꜣꜥꜧꜩꜫꜭꜯꜳꜵꜷꜹꜻꜽꜿꝁꝃꝅꝇꝉꝋ'
                || 'ꝍꝏꝑꝓꝕꝗꝙꝛꝝꝟꝡꝣꝥꝧꝩꝫꝭꝯꝺꝼᵹꝿꞁꞃꞅꞇꞌɥꞑꞓꞗꞙꞛꞝꞟꞡꞣꞥꞧꞩɦɜɡɬɪʞʇʝꭓꞵꞷꞹꞻꞽꞿꟁꟃꞔʂᶎ'
                || 'ꟈꟊꟑꟗꟙꟶａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ𐐨𐐩𐐪𐐫𐐬𐐭𐐮𐐯𐐰𐐱𐐲𐐳𐐴𐐵𐐶𐐷𐐸𐐹𐐺𐐻𐐼𐐽𐐾𐐿𐑀𐑁𐑂𐑃'
                || '𐑄𐑅𐑆𐑇𐑈𐑉𐑊𐑋𐑌𐑍𐑎𐑏𐓘𐓙𐓚𐓛𐓜𐓝𐓞𐓟𐓠𐓡𐓢𐓣𐓤𐓥𐓦𐓧𐓨𐓩𐓪𐓫𐓬𐓭𐓮𐓯𐓰𐓱𐓲𐓳𐓴𐓵𐓶𐓷𐓸𐓹𐓺𐓻𐖗𐖘𐖙𐖚𐖛𐖜𐖝𐖞𐖟𐖠𐖡𐖣'
                || '𐖤𐖥𐖦𐖧𐖨𐖩𐖪𐖫𐖬𐖭𐖮𐖯𐖰𐖱𐖳𐖴𐖵𐖶𐖷𐖸𐖹𐖻𐖼𐳀𐳁𐳂𐳃𐳄𐳅𐳆𐳇𐳈𐳉𐳊𐳋𐳌𐳍𐳎𐳏𐳐𐳑𐳒𐳓𐳔𐳕𐳖𐳗𐳘𐳙𐳚𐳛𐳜𐳝𐳞𐳟𐳠𐳡𐳢𐳣𐳤'
                || '𐳥𐳦𐳧𐳨𐳩𐳪𐳫𐳬𐳭𐳮𐳯𐳰𐳱𐳲𑣀𑣁𑣂𑣃𑣄𑣅𑣆𑣇𑣈𑣉𑣊𑣋𑣌𑣍𑣎𑣏𑣐𑣑𑣒𑣓𑣔𑣕𑣖𑣗𑣘𑣙𑣚𑣛𑣜𑣝𑣞𑣟𖹠𖹡𖹢𖹣𖹤𖹥𖹦𖹧𖹨𖹩𖹪𖹫𖹬𖹭'
                || '𖹮𖹯𖹰𖹱𖹲𖹳𖹴𖹵𖹶𖹷𖹸𖹹𖹺𖹻𖹼𖹽𖹾𖹿𞤢𞤣𞤤𞤥𞤦𞤧𞤨𞤩𞤪𞤫𞤬𞤭𞤮𞤯𞤰𞤱𞤲𞤳𞤴𞤵𞤶𞤷𞤸𞤹𞤺𞤻𞤼𞤽𞤾𞤿𞥀𞥁𞥂𞥃i')
            ),
            NFKC)
END;
END
$$;

-- The comparison key is recomputed for every patient: a rewrite of the patients table under its lock. Accepted
-- for this migration: the table is a hospital's patient list (a rewrite of 10^5 rows takes about a second), the
-- migration command gives up after 5 s without the lock (agent/db/migrations.py), and the column keeps its
-- name, so the previous agent version's queries run unchanged before and after.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX patients_identity_idx;
-- squawk-ignore ban-drop-column
ALTER TABLE patients DROP COLUMN name_key;
-- squawk-ignore adding-field-with-default
ALTER TABLE patients ADD COLUMN name_key text GENERATED ALWAYS AS (patient_name_key(full_name)) STORED;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX patients_identity_idx ON patients (name_key, date_of_birth);

-- Failed identity checks are counted per identity claimed (the name), under a keyed hash: the staff-visible
-- record says how often a name was tried and when it unlocks, not the name or the birth dates tried. The key
-- is random per database (32 bytes from gen_random_uuid's strong random source), readable by the roles that
-- can read the patients anyway; it keeps a copy of these tables alone (an export, a screenshot) from naming anyone.
CREATE TABLE identity_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL CHECK (length(secret) = 32)
);
INSERT INTO identity_key (secret)
SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');

-- sha256(key || sha256(key || name key)): keyed, and nested so it can't be extended like a plain prefix hash.
CREATE FUNCTION identity_claim(full_name text) RETURNS bytea
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    secret bytea := (SELECT k.secret FROM identity_key k);
BEGIN
    RETURN sha256(secret || sha256(secret || convert_to(patient_name_key(full_name), 'UTF8')));
END
$$;

-- One row per name ever claimed: its failures since the last success, and how long it stays locked.
CREATE TABLE identity_claims (
    claim           bytea PRIMARY KEY CHECK (length(claim) = 32),
    -- Reset by a success, and no longer counted once the name locks: integer is ample.
    -- squawk-ignore prefer-bigint-over-int
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure_at timestamptz,
    locked_until    timestamptz
);

-- Every identity check and registration, and how it ended.
CREATE TABLE identity_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    call_session_id bigint REFERENCES call_sessions (id),
    claim           bytea NOT NULL REFERENCES identity_claims (claim),
    kind            text NOT NULL CHECK (kind IN ('verify', 'register')),
    outcome         text NOT NULL CHECK (outcome IN (
        'verified', 'no_match', 'registered', 'on_file', 'registration_refused', 'refused_call_limit',
        'refused_locked')),
    patient_id      bigint REFERENCES patients (id)
);
CREATE INDEX identity_attempts_session_idx ON identity_attempts (call_session_id);
CREATE INDEX identity_attempts_claim_idx ON identity_attempts (claim, at);

-- For staff: identities locked now, the patients on file under that name, and the calls that tried it.
-- Unlock one: UPDATE identity_claims SET failures = 0, locked_until = NULL WHERE claim = identity_claim('<name>')
CREATE VIEW identity_lockouts AS
SELECT c.claim, c.failures, c.last_failure_at, c.locked_until,
       ARRAY(SELECT p.id FROM patients p WHERE identity_claim(p.full_name) = c.claim ORDER BY p.id) AS patient_ids,
       ARRAY(SELECT DISTINCT a.call_session_id FROM identity_attempts a
             WHERE a.claim = c.claim AND a.call_session_id IS NOT NULL AND a.at > c.locked_until - interval '2 days'
             ORDER BY a.call_session_id) AS call_session_ids
FROM identity_claims c
WHERE c.locked_until > now();

-- The claim's row, locked for this transaction (attempts on one name are counted one after another), with its
-- failures forgotten once a lock or a day without failures has passed; and whether this attempt may go on:
-- 'refused_call_limit' after failures_per_call failed attempts in this call (whatever the names), 'refused_locked'
-- while the name is locked, else NULL. The limits: a call gets 3 tries; a name 5 in a day, then a day's lock.
CREATE FUNCTION identity_gate(claimed bytea, in_session bigint) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    failures_per_call CONSTANT integer := 3;
    held identity_claims;
BEGIN
    INSERT INTO identity_claims AS c (claim) VALUES (claimed)
    ON CONFLICT (claim) DO UPDATE SET
        failures = CASE WHEN c.locked_until <= now() OR c.last_failure_at <= now() - interval '1 day' THEN 0
                        ELSE c.failures END,
        locked_until = CASE WHEN c.locked_until <= now() THEN NULL ELSE c.locked_until END
    RETURNING * INTO held;
    IF in_session IS NOT NULL AND (
        SELECT count(*) FROM identity_attempts a
        WHERE a.call_session_id = in_session AND a.outcome IN ('no_match', 'registration_refused')
    ) >= failures_per_call THEN
        RETURN 'refused_call_limit';
    END IF;
    IF held.locked_until IS NOT NULL THEN
        RETURN 'refused_locked';
    END IF;
    RETURN NULL;
END
$$;

-- Records the attempt and moves the claim's count: a failure counts (the fifth in a day locks the name for a
-- day), a success clears it.
CREATE FUNCTION identity_outcome(claimed bytea, in_session bigint, attempt text, result text, patient bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    failures_per_name CONSTANT integer := 5;
BEGIN
    INSERT INTO identity_attempts (call_session_id, claim, kind, outcome, patient_id)
    VALUES (in_session, claimed, attempt, result, patient);
    IF result IN ('no_match', 'registration_refused') THEN
        UPDATE identity_claims c SET
            failures = c.failures + 1,
            last_failure_at = now(),
            locked_until = CASE WHEN c.failures + 1 >= failures_per_name THEN now() + interval '1 day' END
        WHERE c.claim = claimed;
    ELSIF result IN ('verified', 'on_file') THEN
        UPDATE identity_claims c SET failures = 0, last_failure_at = NULL WHERE c.claim = claimed;
    END IF;
END
$$;

-- The identity check: outcome 'verified' with the patient when exactly one matches the name and birth date or
-- phone (two records match nobody), 'no_match', or a refusal from identity_gate, before anything is compared.
-- Audited as 0005's find_patient was, a refusal as denied.
CREATE FUNCTION verify_patient(name_given text, born date, phone_given text, in_session bigint, acting text, lookup text)
RETURNS TABLE (outcome text, id bigint, mrn text, full_name text, date_of_birth date, phone text, email text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- Computed once here: inlined into the statement below, the key's expression costs far more per call.
    given_key CONSTANT text := patient_name_key(name_given);
    claimed CONSTANT bytea := identity_claim(name_given);
    refusal text := identity_gate(claimed, in_session);
    found patients[];
BEGIN
    IF refusal IS NOT NULL THEN
        PERFORM identity_outcome(claimed, in_session, 'verify', refusal, NULL);
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        VALUES (in_session, acting, 'denied', NULL, 'patient', NULL, jsonb_build_object('reason', refusal));
        RETURN QUERY SELECT refusal, NULL::bigint, NULL::text, NULL::text, NULL::date, NULL::text, NULL::text;
        RETURN;
    END IF;
    found := ARRAY(
        SELECT p FROM patients p
        WHERE p.name_key = given_key
          AND (born IS NULL OR p.date_of_birth = born) AND (phone_given IS NULL OR p.phone = phone_given)
        LIMIT 2);
    INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
    VALUES (in_session, acting, 'read', CASE WHEN cardinality(found) = 1 THEN (found[1]).id END, 'patient',
            CASE WHEN cardinality(found) = 1 THEN (found[1]).id END,
            jsonb_build_object('lookup', lookup, 'matches', cardinality(found)));
    IF cardinality(found) = 1 THEN
        PERFORM identity_outcome(claimed, in_session, 'verify', 'verified', (found[1]).id);
        RETURN QUERY SELECT 'verified', (found[1]).id, (found[1]).mrn, (found[1]).full_name, (found[1]).date_of_birth,
                            (found[1]).phone, (found[1]).email;
    ELSE
        PERFORM identity_outcome(claimed, in_session, 'verify', 'no_match', NULL);
        RETURN QUERY SELECT 'no_match', NULL::bigint, NULL::text, NULL::text, NULL::date, NULL::text, NULL::text;
    END IF;
END
$$;

-- Registration never makes a second record for a name and birth date on file. Outcomes: 'registered' (a new
-- record), 'on_file' (exactly one record has this name, birth date and phone: the caller is that patient, as a
-- verification would find; nothing on it changes), 'registration_refused' (the name and birth date are on file
-- with another phone: a failed attempt, since it would otherwise tell a guessed birth date right), or a refusal
-- from identity_gate. The claim's row lock makes concurrent registrations of one identity take turns.
CREATE FUNCTION register_new_patient(
    name_given text, born date, phone_given text, new_mrn text, email_given text, in_session bigint, acting text
) RETURNS TABLE (outcome text, id bigint, mrn text, full_name text, date_of_birth date, phone text, email text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- Computed once here: inlined into the statement below, the key's expression costs far more per call.
    given_key CONSTANT text := patient_name_key(name_given);
    claimed CONSTANT bytea := identity_claim(name_given);
    refusal text := identity_gate(claimed, in_session);
    found patients[];
    created patients;
BEGIN
    IF refusal IS NOT NULL THEN
        PERFORM identity_outcome(claimed, in_session, 'register', refusal, NULL);
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        VALUES (in_session, acting, 'denied', NULL, 'patient', NULL, jsonb_build_object('reason', refusal));
        RETURN QUERY SELECT refusal, NULL::bigint, NULL::text, NULL::text, NULL::date, NULL::text, NULL::text;
        RETURN;
    END IF;
    found := ARRAY(
        SELECT p FROM patients p WHERE p.name_key = given_key AND p.date_of_birth = born
        ORDER BY p.id LIMIT 2);
    IF cardinality(found) = 0 THEN
        INSERT INTO patients (mrn, full_name, date_of_birth, phone, email)
        VALUES (new_mrn, name_given, born, phone_given, email_given)
        RETURNING * INTO created;
        PERFORM identity_outcome(claimed, in_session, 'register', 'registered', created.id);
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        VALUES (in_session, acting, 'create', created.id, 'patient', created.id, '{}'::jsonb);
        RETURN QUERY SELECT 'registered', created.id, created.mrn, created.full_name, created.date_of_birth,
                            created.phone, created.email;
    ELSIF cardinality(found) = 1 AND (found[1]).phone = phone_given THEN
        PERFORM identity_outcome(claimed, in_session, 'register', 'on_file', (found[1]).id);
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        VALUES (in_session, acting, 'read', (found[1]).id, 'patient', (found[1]).id, '{"lookup": "register"}'::jsonb);
        RETURN QUERY SELECT 'on_file', (found[1]).id, (found[1]).mrn, (found[1]).full_name, (found[1]).date_of_birth,
                            (found[1]).phone, (found[1]).email;
    ELSE
        PERFORM identity_outcome(claimed, in_session, 'register', 'registration_refused', NULL);
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        VALUES (in_session, acting, 'denied', NULL, 'patient', NULL,
                '{"reason": "registration_refused"}'::jsonb);
        RETURN QUERY SELECT 'registration_refused', NULL::bigint, NULL::text, NULL::text, NULL::date, NULL::text,
                            NULL::text;
    END IF;
END
$$;

-- What a read-back needs to know about a slot before the caller is asked to agree to it: the doctor's name and
-- specialty (null when there is no such doctor), whether the doctor is active, whether the slot lies in one of
-- the doctor's shifts and on its grid, and whether a booked appointment (other than except_appointment, the
-- one being moved) overlaps it.
CREATE FUNCTION slot_facts(with_doctor integer, slot_start timestamptz, slot_length interval, except_appointment bigint)
RETURNS TABLE (doctor_name text, specialty text, doctor_active boolean, in_shift boolean, on_grid boolean,
               taken boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH shift AS (
        SELECT s.starts_at FROM shifts s
        WHERE s.doctor_id = with_doctor AND s.starts_at > slot_start - interval '24 hours'
          AND s.starts_at <= slot_start AND s.ends_at >= slot_start + slot_length
    )
    SELECT d.full_name, d.specialty, d.active,
           EXISTS (SELECT 1 FROM shift),
           EXISTS (SELECT 1 FROM shift WHERE date_bin(slot_length, slot_start, shift.starts_at) = slot_start),
           EXISTS (
               SELECT 1 FROM appointments a
               WHERE a.doctor_id = with_doctor AND a.status = 'booked'
                 AND a.starts_at > slot_start - interval '8 hours' AND a.starts_at < slot_start + slot_length
                 AND a.ends_at > slot_start AND a.id IS DISTINCT FROM except_appointment)
    FROM (SELECT 1) one LEFT JOIN doctors d ON d.id = with_doctor;
END
$$;

-- A booking and a change to the same doctor's shifts each read the other's table. Without a common lock, both
-- could pass their check on snapshots that miss the other and commit an appointment outside every shift. Both
-- triggers now lock the doctor's row first (FOR NO KEY UPDATE: the foreign keys' KEY SHARE locks don't wait on
-- it), so the second one waits for the first to finish and, read committed, then sees its result.
-- A row lock needs UPDATE rights on the table; the triggers run as their owner (SECURITY DEFINER, with a fixed
-- search_path), so a role that may book (the agent's, the staff console's) need not be able to change doctors.
CREATE OR REPLACE FUNCTION appointment_within_shift() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.status = 'booked' THEN
        PERFORM 1 FROM doctors d WHERE d.id = NEW.doctor_id FOR NO KEY UPDATE;
        IF NOT EXISTS (
            SELECT 1 FROM shifts s
            WHERE s.doctor_id = NEW.doctor_id AND s.starts_at <= NEW.starts_at AND s.ends_at >= NEW.ends_at
        ) THEN
            RAISE EXCEPTION 'appointment % is outside every shift of doctor %', NEW.id, NEW.doctor_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'appointments_within_shift';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION shift_keeps_appointments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM doctors d WHERE d.id = OLD.doctor_id FOR NO KEY UPDATE;
    IF EXISTS (
        SELECT 1 FROM appointments a
        WHERE a.doctor_id = OLD.doctor_id AND a.status = 'booked'
          AND a.starts_at < OLD.ends_at AND a.ends_at > OLD.starts_at
          AND NOT EXISTS (
              SELECT 1 FROM shifts s
              WHERE s.doctor_id = a.doctor_id AND s.starts_at <= a.starts_at AND s.ends_at >= a.ends_at
          )
    ) THEN
        RAISE EXCEPTION 'shift % still holds booked appointments', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'shifts_keep_appointments';
    END IF;
    RETURN NULL;
END
$$;
