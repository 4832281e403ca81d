"""What `collect` says: the collection record's reasons, the console lines, the IMAP settings' errors,
and the words it reads in a subject to know an automatic reply (data, like vocabulary.py).

- ``collect.status.*``: a message's or an attachment's status in the record, as the console names it;
- ``collect.message.*``: why a message needs staff (no attachment, an automatic reply, a bounce...);
- ``collect.reason.*``: why an attachment was not saved, or what was done with it;
- ``collect.imap.*``: the IMAP section of config/mail.yaml and the server.
"""
from __future__ import annotations

# Words of a subject that make a message without attachments an automatic reply (matched after NFKC,
# lower case). Japanese mail programs and Exchange write these; a real reply rarely starts so.
AUTO_REPLY_SUBJECT_WORDS = (
    "自動応答", "自動返信", "自動送信", "不在通知", "不在のお知らせ", "不在のため", "不在にしております",
    "automatic reply", "auto reply", "autoreply", "auto-reply", "out of office", "out of the office",
)
# Words of a subject (or the start of a sender's address) that make a message a delivery failure notice.
BOUNCE_SUBJECT_WORDS = (
    "配信不能", "配送不能", "配信エラー", "送信エラー", "undeliverable", "delivery status notification",
    "mail delivery failed", "delivery failure", "failure notice", "returned mail", "undelivered mail",
)
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")

TEXTS = {
    # --- names of what collect writes
    "collect.record-folder": "{inbox}_回収記録",
    "collect.record-file": "回収記録.csv",
    "collect.unnamed-attachment": "添付ファイル",
    # --- a message's status (the record's `status` of a message row)
    "collect.status.answer": "調査票を保存",
    "collect.status.no-attachment": "添付なしの返信",
    "collect.status.auto-reply": "自動応答",
    "collect.status.bounce": "配信不能の通知",
    "collect.status.nothing-saved": "調査票の添付なし",
    "collect.status.refused": "取り込めないメール",
    # --- an attachment's status
    "collect.status.saved": "保存",
    "collect.status.unpacked": "展開",
    "collect.status.skipped": "省略",
    "collect.status.not-survey": "対象外",
    "collect.status.not-saved": "保存せず",
    # --- why a message needs staff (the message row's reason)
    "collect.message.no-attachment": "添付ファイルのない返信です。本文を確かめてください（「後日送ります」「質問」など）。",
    "collect.message.auto-reply": "自動応答のメールです（{why}）。学校の担当者が不在の可能性があります。",
    "collect.message.bounce": "配信不能の通知です（{why}）。学校一覧のメールアドレスが正しいか確かめてください。",
    "collect.message.nothing-saved": "調査票と思われる添付ファイルがありません。添付の内容を確かめ、"
                                     "必要なら学校に調査票（.xlsx）を送り直してもらってください。",
    "collect.message.too-large": "メールが大きすぎるため（{mb} MB。上限 {limit} MB）取り込みませんでした。"
                                 "メールソフトで開き、調査票を手で inbox に保存してください。",
    "collect.message.unreadable": "メールとして読めません（{error}）。メールソフトで開いて確かめてください。",
    "collect.message.too-deep": "メールの入れ子が深すぎて読めません。メールソフトで開いて確かめてください。",
    "collect.message.saved-count": "調査票 {count} 件を保存しました。",
    "collect.why.header": "見出し {header}: {value}",
    "collect.why.subject": "件名「{subject}」",
    "collect.why.sender": "差出人 {sender}",
    # --- why an attachment was not saved, or what was done with it
    "collect.reason.inline-image": "本文中の画像や署名の画像のため保存しません。",
    "collect.reason.not-survey": "調査票ではありません（{what}）。",
    "collect.reason.empty": "添付ファイルが空（0バイト）です。",
    "collect.reason.too-large": "添付ファイルが大きすぎます（{mb} MB。上限 {limit} MB）。調査票だけを送り直してもらってください。",
    "collect.reason.unsafe": "安全のため保存しません: {reason}",
    "collect.reason.undecodable": "添付ファイルの中身を取り出せません（{error}）。",
    "collect.reason.auto": "自動応答のメールのため、添付ファイルは保存しません。",
    "collect.reason.bounce": "配信不能の通知に付いた元のメールの添付のため保存しません。",
    "collect.reason.too-deep": "メールの入れ子が {depth} 段を超える部分のため読みませんでした。",
    "collect.reason.too-many": "1通の添付ファイルが {limit} 個を超えるため、{limit} 個目より後は読みませんでした。"
                               "学校に確かめてください。",
    "collect.reason.embedded-unreadable": "添付されたメールを読めません（{error}）。",
    "collect.reason.unpacked": "ZIP ファイルを展開しました（中のファイル {count} 個）。",
    "collect.reason.encrypted-zip": "パスワード付きの ZIP ファイルのため開けません。ZIP にせず、調査票（.xlsx）そのものを"
                                    "メールに添付して送り直すよう学校に依頼してください（パスワードを別のメールで送る必要はありません）。",
    "collect.reason.zip-broken": "ZIP ファイルが壊れていて展開できません（{error}）。学校に調査票そのものを送り直してもらってください。",
    "collect.reason.zip-in-zip": "ZIP の中の ZIP は展開しません。学校に調査票そのものを送ってもらってください。",
    "collect.reason.zip-too-many": "ZIP の中のファイルが {count} 個あり、上限の {limit} 個を超えるため展開しません。",
    "collect.reason.encrypted-workbook": "パスワード付きのブックです。保存しましたが、集約では読めません"
                                         "（パスワードを外して送り直すよう学校に依頼してください）。",
    # --- the console
    "collect.progress": "回収",
    "collect.unit": "通",
    "collect.reading-folder": "保存したメールのフォルダ {folder} を読みます。",
    "collect.reading-imap": "IMAP サーバー {server} のフォルダ「{folder}」を読み取り専用で開きます（メールの削除・移動・既読にはしません）。",
    "collect.summary": "メール {total} 通を確認しました: 新しく取り込み {new} 通（調査票 {saved} 件を {inbox} に保存）、"
                       "取り込み済み {known} 通。",
    "collect.summary-resumed": "前回中断したメール {count} 通の続きを取り込みました。",
    "collect.summary-seconds": "所要時間 {seconds:.1f} 秒",
    "collect.staff-heading": "確認が必要なメール（{count} 通）:",
    "collect.staff-line": "  [{status}] {received} {sender}「{subject}」: {reason}",
    "collect.staff-part": "      {attachment}（{status}）: {reason}",
    "collect.staff-more": "      ほか {count} 個（回収記録を参照）",
    "collect.record-line": "回収記録（最後の行がファイルの場所）:",
    "collect.stopped": "回収を途中で止めました（{reason}）。ここまでに取り込んだメールは記録済みです。"
                       "もう一度実行すると続きから取り込みます。",
    "collect.stopped.interrupted": "中断されました",
    # --- errors that stop the verb
    "collect.no-messages-folder": "保存したメールのフォルダ {folder} がありません。.eml / .msg を置いたフォルダを指定してください。",
    "collect.busy": "別の回収が実行中です（{path} を使用中）。終わってからもう一度実行してください。",
    "collect.record-unreadable": "回収記録 {path} を読めません（{reason}）。",
    "collect.not-writable": "{folder} に書き込めません（{reason}）。",
    # --- the IMAP section of config/mail.yaml, and the server
    "collect.imap.no-config": "IMAP の設定がありません。{config} の imap: に host・user・folder を書くか、"
                              "--messages で保存したメール（.eml / .msg）のフォルダを指定してください。",
    "collect.imap.errors": "メールの設定ファイル {path} の imap: に誤りがあります:\n{errors}",
    "collect.imap.not-a-mapping": "imap: の下に「host: …」のような行を字下げして書いてください。",
    "collect.imap.unknown-keys": "imap: に知らない項目 {keys} があります（綴りを確かめてください）。",
    "collect.imap.not-text": "imap: の {key} は文字で書いてください。",
    "collect.imap.no-host": "imap: の host（受信サーバー）を書いてください。",
    "collect.imap.no-user": "imap: の user（受信箱のユーザー名）を書いてください。",
    "collect.imap.control-chars": "imap: の {key} に改行や制御文字が含まれています。",
    "collect.imap.bad-port": "imap: の port は 1～65535 の整数で書いてください（「{port}」）。",
    "collect.imap.bad-security": "imap: の security は tls・starttls・plain のどれかで書いてください（「{value}」）。",
    "collect.imap.bad-seconds": "imap: の {key} は 0 より大きい数（秒）で書いてください。",
    "collect.imap.server": "{host}:{port}",
    "collect.imap.no-password": "IMAP のパスワードが環境変数 {env} にありません。実行する前に設定してください"
                                "（例: export {env}='…'）。",
    "collect.imap.no-connection": "IMAP サーバー {server} に接続できません（{reason}）。host と port を確かめてください。",
    "collect.imap.tls-failed": "IMAP サーバー {server} との暗号化（TLS）に失敗しました（{reason}）。"
                               "{config} の imap: の security と ca_file を確かめてください。",
    "collect.imap.no-starttls": "IMAP サーバー {server} は STARTTLS に対応していません。{config} の imap: の security を確かめてください。",
    "collect.imap.login-failed": "IMAP サーバー {server} にユーザー {user} でログインできません。環境変数 {env} のパスワードを確かめてください。",
    "collect.imap.no-folder": "IMAP サーバー {server} にフォルダ「{folder}」がありません。{config} の imap: の folder を確かめてください。",
    "collect.imap.failed": "IMAP サーバー {server} とのやり取りに失敗しました（{reason}）。",
}
