"""What the mail verbs say: labels of 送信一覧.csv, notes per school, console lines and the errors that stop a run."""
from __future__ import annotations

TEXTS = {
    "mail.summary-file": "送信一覧.csv",
    # the verbs, as the console names them
    "mail.verb.distribute": "配布メール",
    "mail.verb.remind": "督促メール",
    "mail.verb.return": "差戻しメール",
    # a school's status in 送信一覧.csv and on the console
    "mail.status.pending": "送信予定",
    "mail.status.pending-draft": "作成予定",
    "mail.status.draft": "下書き作成",
    "mail.status.sent": "送信",
    "mail.status.already_sent": "送信済みのため省略",
    "mail.status.no_address": "メールアドレスなし",
    "mail.status.no_attachment": "添付ファイルなし",
    "mail.status.refused": "受付不可",
    "mail.status.not_in_roster": "学校一覧にない",
    "mail.status.failed": "送信失敗",
    "mail.status.not_sent": "未送信（中断）",
    # characters that would break a mail header
    "mail.char.newline": "改行",
    "mail.char.tab": "タブ",
    "mail.char.control": "制御文字（U+{codepoint}）",
    # config/mail.yaml
    "mail.config.missing": "メールの設定ファイル {path} がありません。差出人などを書いた設定ファイルを用意してください。",
    "mail.config.unreadable": "メールの設定ファイル {path} を読めません（{reason}）。UTF-8 の YAML として保存してください。",
    "mail.config.not-a-mapping": "メールの設定ファイル {path} の形式が正しくありません（「sender: …」のような行が必要です）。",
    "mail.config.errors": "メールの設定ファイル {path} に誤りがあります:\n{errors}",
    "mail.config.unknown-keys": "知らない項目 {keys} があります（綴りを確かめてください）。",
    "mail.config.not-text": "{key} は文字で書いてください。",
    "mail.config.no-sender": "差出人のアドレス（sender）を書いてください。",
    "mail.config.bad-address": "{key} のメールアドレス「{address}」の形式が正しくありません。",
    "mail.config.control-chars": "{key} に改行や制御文字が含まれています。",
    "mail.config.bad-port": "port は 1～65535 の整数で書いてください（「{port}」）。",
    "mail.config.bad-starttls": "starttls は true か false で書いてください。",
    "mail.config.bad-seconds": "{key} は 0 以上の数（秒）で書いてください。",
    # the roster's row of a school, and why it gets no mail
    "mail.roster-row": "学校一覧の学校コード {code} の行",
    "mail.field.code": "学校コード",
    "mail.field.name": "学校名",
    "mail.refused.header-field": "{where}: {field}「{value}」に{chars}が含まれているため、"
                                 "メールの見出し（件名・宛先）に使えません。学校一覧を直してください。",
    "mail.refused.address-chars": "{where}: メールアドレス「{address}」に{chars}が含まれているため、"
                                  "宛先に使えません。学校一覧を直してください。",
    "mail.refused.bad-address": "{where}: メールアドレス「{address}」の形式が正しくありません。学校一覧を直してください。",
    "mail.no-address": "学校一覧のメールアドレスが空欄です。",
    "mail.not-in-roster": "集約結果にはありますが、学校一覧にない学校です。",
    # attachments
    "mail.kind.template": "調査票",
    "mail.kind.return-file": "差戻しファイル",
    "mail.attachment.missing": "{kind}（{code}_….xlsx）が {folder} にありません。",
    "mail.attachment.several": "{kind}が {count} 個あります（{files}）。1つにしてください。",
    # folders and files to work from
    "mail.no-templates-folder": "調査票のフォルダ {folder} がありません。先に make templates で調査票を作ってください。",
    "mail.no-run": "{outbox} に集約結果のフォルダがありません。先に make consolidate を実行するか、--run でフォルダを指定してください。",
    "mail.not-a-run": "{folder} は集約結果のフォルダではありません（schools.csv がありません）。",
    "mail.csv.missing-columns": "{path}: 列 {columns} がありません。集約結果のファイルではないようです。",
    "mail.csv.missing": "{path} がありません。集約結果のフォルダを確かめてください。",
    "mail.csv.not-utf8": "{path} を UTF-8 として読めません。集約結果のファイルを Excel で上書き保存していないか確かめてください。",
    # where a problem is, in a return mail
    "mail.place.sheet-cell": "「{sheet}」シート {cell}",
    "mail.place.sheet": "「{sheet}」シート",
    "mail.place.cell": "セル {cell}",
    "mail.place.file": "ファイル全体",
    # notes of a return run
    "mail.note.unattributed": "学校を特定できないファイルの問題が {count} 件あります（{path}）。メールは作りません。",
    "mail.note.no-return-file": "{code} {name} は差戻しの対象ですが、差戻しファイルがないためメールを作りません（{reason}）",
    # the message templates
    "mail.template-error": "メールの文面テンプレート {path} に誤りがあります（{reason}）。",
    "mail.bad-subject": "件名「{subject}」に{chars}が含まれています。"
                        "テンプレート {template} の subject と調査定義の title を確かめてください。",
    # the send log
    "mail.log-busy": "別の送信が実行中です（{path} を使用中）。終わってからもう一度実行してください。",
    "mail.already-sent": "{when} に送信済みです。",
    "mail.already-sent-draft": "{when} に SMTP で送信済みです（下書きは作りました）。",
    # SMTP
    "mail.smtp.no-host": "送信先の SMTP サーバーが指定されていません。--smtp-host（make では SMTP_HOST=）で指定するか、"
                         "{config} の host に書いてください。",
    "mail.smtp.no-password": "SMTP のパスワードが設定されていません。環境変数 {env} にパスワードを入れてから実行してください"
                             "（パスワードは設定ファイルには書きません）。",
    "mail.smtp.server": "SMTP サーバー {host}:{port}",
    "mail.smtp.no-connection": "{server} に接続できませんでした（{reason}）。サーバー名とポート番号を確かめてください。",
    "mail.smtp.no-starttls": "{server} は STARTTLS（暗号化）に対応していません。庁内の中継サーバーで暗号化が不要な場合だけ、"
                             "{config} の starttls を false にしてください。",
    "mail.smtp.login-failed": "{server} でユーザー {user} の認証に失敗しました。ユーザー名と環境変数 {env} のパスワードを確かめてください。",
    "mail.smtp.no-auth": "{server} は認証（AUTH）に対応していません。{config} の user を空欄にしてください。",
    "mail.smtp.tls-failed": "{server} との暗号化（STARTTLS）に失敗しました（{reason}）。サーバーの証明書が庁内の認証局のものなら、"
                            "{config} の ca_file にその証明書を指定してください。",
    "mail.smtp.failed": "{server} との通信に失敗しました（{reason}）。",
    # what the server said about one message
    "mail.note.recipients-refused": "宛先をサーバーに拒否されました: {recipients}",
    "mail.refused-recipient": "{address}（{code} {reply}）",
    "mail.note.server-refused": "サーバーに拒否されました（{code} {reply}）",
    "mail.note.some-refused": "一部の宛先はサーバーに拒否されました: {addresses}",
    "mail.note.not-sent": "送信が途中で止まったため送っていません。もう一度実行すると送ります。",
    "mail.stopped.connection-lost": "サーバーとの接続が切れました（{reason}）",
    "mail.stopped.interrupted": "中断されました（Ctrl+C）",
    # console
    "mail.unknown-verb": "mail の後に distribute・remind・return のどれかを指定してください。",
    "mail.run-folder": "集約結果: {folder}",
    "mail.dry-run.heading": "{label}（確認のみ。何も書き出さず、送信もしません）:",
    "mail.dry-run.line": "  {status} {code} {name} → {addresses}{attachment}",
    "mail.dry-run.attachment": "（添付: {name}）",
    "mail.sending": "{label}を送信します（{host}:{port}）:",
    "mail.sent-line": "  送信 {code} {name} → {addresses}",
    "mail.failed-line": "  失敗 {code} {name}: {note}",
    "mail.skipped-already-sent": "{count}校は送信済みのため送りませんでした（送信記録: {log}）。",
    "mail.stopped": "送信が途中で止まりました: {reason}。{count}校が未送信です。"
                    "同じコマンドをもう一度実行すると、送信済みの学校を除いて送ります。",
    "mail.report.total": "{label}: 対象 {count}校 — {counts}",
    "mail.report.none": "{label}: 対象 {count}校（対象の学校はありません）",
    "mail.report.count": "{status} {count}校",
    "mail.report.not-mailed": "次の学校にはメールを作成・送信していません（送信一覧.csv にも記載）:",
    "mail.report.not-mailed-line": "  [{status}] {code} {name}: {note}",
}
