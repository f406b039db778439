-- The MSI's text in zh-TW (then English), applied by scripts/build-msi.sh with msibuild after
-- wixl (which cannot store non-ASCII text). One statement per line; the database codepage is 950.
UPDATE `Property` SET `Value` = 'nhi-bridge 健保卡讀卡機元件 (NHI card reader component)' WHERE `Property` = 'ProductName'
UPDATE `Shortcut` SET `Name` = '健保卡元件檢測 Self-check', `Description` = '開啟元件檢測頁 Open the self-check page' WHERE `Shortcut` = 'SelfCheckShortcut'
UPDATE `Shortcut` SET `Name` = '啟動健保卡元件 Start nhi-bridge', `Description` = '啟動元件 Start the component' WHERE `Shortcut` = 'StartShortcut'
UPDATE `LaunchCondition` SET `Description` = '已安裝較新版本的 nhi-bridge。A newer nhi-bridge is already installed.' WHERE `Condition` = 'NOT NEWERFOUND'
