// More office, management, public-sector and specialist titles. Written for jobbert; one title per line: en | de | es | zh
export default `
team leader | Teamleiter | jefe de equipo | 团队主管
department manager | Abteilungsleiter | jefe de departamento | 部门经理
branch manager | Niederlassungsleiter | director de sucursal | 分公司经理
regional manager | Regionalleiter | director regional | 区域经理
area sales manager | Gebietsverkaufsleiter | jefe de ventas de zona | 区域销售经理
managing director | geschäftsführender Direktor | director gerente | 董事总经理
board member | Vorstandsmitglied | miembro del consejo de administración | 董事会成员
chief marketing officer | Marketingvorstand | director de marketing corporativo | 首席营销官
chief human resources officer | Personalvorstand | director de personas | 首席人力资源官
head of finance | Leiter Finanzen | jefe de finanzas | 财务负责人
head of sales | Leiter Vertrieb | jefe de ventas | 销售负责人
head of engineering | Leiter Entwicklung | jefe de ingeniería | 工程负责人
engineering manager | Engineering Manager | gerente de ingeniería | 工程经理
R&D manager | Leiter Forschung und Entwicklung | director de I+D | 研发经理
innovation manager | Innovationsmanager | gestor de innovación | 创新经理
sustainability manager | Nachhaltigkeitsmanager | responsable de sostenibilidad | 可持续发展经理
change manager | Change-Manager | gestor del cambio | 变革经理
process manager | Prozessmanager | gestor de procesos | 流程经理
controller | Controller im Unternehmen | controlador de gestión | 管理会计
cost accountant | Kostenrechner | contable de costes | 成本会计
treasury manager | Treasury-Manager | tesorero | 资金经理
credit controller | Forderungsmanager | gestor de cobros | 信用控制专员
debt collector | Inkassomitarbeiter | gestor de recobro | 催收员
mortgage advisor | Baufinanzierungsberater | asesor hipotecario | 房贷顾问
wealth manager | Vermögensverwalter | gestor de patrimonios | 财富管理经理
private banker | Privatbankier | banquero privado | 私人银行家
insurance broker | Versicherungsmakler | corredor de seguros | 保险经纪人
contract manager | Vertragsmanager | gestor de contratos | 合同经理
tender manager | Ausschreibungsmanager | responsable de licitaciones | 投标经理
import export clerk | Außenhandelskaufmann | administrativo de comercio exterior | 进出口专员
customer care specialist | Kundenbetreuungsspezialist | especialista en atención al cliente | 客户关怀专员
complaints handler | Beschwerdemanager | gestor de reclamaciones | 投诉处理专员
call centre team leader | Teamleiter Callcenter | coordinador de call center | 呼叫中心组长
switchboard operator | Telefonist | telefonista | 总机接线员
mail room clerk | Poststellenmitarbeiter | empleado de correspondencia | 收发室职员
records manager | Schriftgutverwalter | gestor documental | 文档管理员
personal assistant | persönlicher Assistent | asistente personal | 私人助理
legal secretary | Rechtsanwaltssekretär | secretario jurídico | 法律秘书
court clerk | Justizfachangestellter | oficial de juzgado | 书记员
mayor | Bürgermeister | alcalde | 市长
diplomat | Diplomat | diplomático | 外交官
politician | Politiker | político | 政治家
social security officer | Sachbearbeiter Sozialversicherung | gestor de la seguridad social | 社会保障专员
employment advisor | Arbeitsvermittler | orientador laboral | 就业顾问
tax inspector | Steuerprüfer | inspector de hacienda | 税务稽查员
building inspector | Bauaufsichtsbeamter | inspector de obras | 建筑检查员
food safety inspector | Lebensmittelkontrolleur | inspector de seguridad alimentaria | 食品安全检查员
labour inspector | Arbeitsinspektor | inspector de trabajo | 劳动监察员
statistical assistant | statistischer Assistent | asistente de estadística | 统计助理
clergyman | Geistlicher | sacerdote | 神职人员
office assistant | Büroassistent | asistente de oficina | 办公室助理
team assistant | Teamassistent | asistente de equipo | 团队助理
management assistant | Managementassistent | asistente de gerencia | 管理助理
document controller | Dokumentenkontrolleur | controlador de documentación | 文控专员
transcriptionist | Schreibkraft | transcriptor | 转录员
purchasing assistant | Einkaufsassistent | asistente de compras | 采购助理
operations coordinator | Operations-Koordinator | coordinador de operaciones | 运营协调员
head of operations | Leiter Betrieb | jefe de operaciones | 运营主管
chief data officer | Chief Data Officer | director de datos | 首席数据官
chief digital officer | Chief Digital Officer | director digital | 首席数字官
vice president | Vizepräsident | vicepresidente | 副总裁
deputy director | stellvertretender Direktor | subdirector | 副总监
supervisor | Vorgesetzter | supervisor | 主管
`;
